"""The run lease on two replicating providers: never two runs at once, whatever the order."""

from __future__ import annotations

import signal
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from replication_helpers import consumer_stopped, pair_settings

from sync.core.lease import granted, parse_lease
from sync.errors import DirectoryUnavailable, LockBusy
from sync.ldap.directory import Directory
from sync.run.lock import RunLock, locked_run
from sync.run.replicated_lease import ReplicatedLease

from conftest import shipped_acl
from servers.replication import ReplicatedPair

pytest_plugins = ["servers.fixtures"]

ROUNDS = 12


def lock_for(pair, base, tmp_path, name, urls, **lock):
    settings = pair_settings(pair, base, tmp_path / name, urls, lock=lock or {})
    return RunLock(settings)


def test_a_list_of_servers_takes_the_lease_by_claims(slapd_pair, slapd_pair_ou, tmp_path):
    lock = lock_for(slapd_pair, slapd_pair_ou, tmp_path, "a", slapd_pair.urls)
    assert isinstance(lock.lease, ReplicatedLease)
    with lock.held(0):
        settings = pair_settings(slapd_pair, slapd_pair_ou, tmp_path / "x", slapd_pair.urls)
        one = settings.ldap.model_copy(update={"url": slapd_pair.second.url})
        with Directory.open(one) as second:
            claims = second.read_claims(lock.lease.dn)
        assert [parse_lease(v).holder for vs in claims.values() for v in vs] == [lock.lease.holder]
    with Directory.open(one) as second:
        assert second.read_claims(lock.lease.dn) == {}


def test_two_instances_with_the_providers_in_opposite_orders_never_run_together(
    slapd_pair, slapd_pair_ou, tmp_path
):
    forward = lock_for(slapd_pair, slapd_pair_ou, tmp_path, "a", slapd_pair.urls)
    backward = lock_for(slapd_pair, slapd_pair_ou, tmp_path, "b", slapd_pair.urls[::-1])
    inside: list[str] = []
    overlaps: list[tuple[str, ...]] = []
    held: dict[str, int] = {"forward": 0, "backward": 0}
    start = threading.Barrier(2)

    def instance(name: str, lock: RunLock) -> None:
        for _ in range(ROUNDS):
            start.wait(30)
            with lock.lease_held(time.monotonic() + 60):
                inside.append(name)
                if len(inside) > 1:
                    overlaps.append(tuple(inside))
                held[name] += 1
                time.sleep(0.05)
                inside.remove(name)

    threads = [
        threading.Thread(target=instance, args=("forward", forward)),
        threading.Thread(target=instance, args=("backward", backward)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert held == {"forward": ROUNDS, "backward": ROUNDS}
    assert overlaps == []


def test_a_provider_back_from_a_crash_does_not_let_a_second_run_in(
    slapd_pair: ReplicatedPair, slapd_pair_ou, tmp_path
):
    slapd_pair.first.halt(signal.SIGKILL)
    holder = lock_for(slapd_pair, slapd_pair_ou, tmp_path, "a", slapd_pair.urls)
    with holder.lease_held(time.monotonic()):
        slapd_pair.first.resume()
        other = lock_for(slapd_pair, slapd_pair_ou, tmp_path, "b", slapd_pair.urls)
        with pytest.raises(LockBusy, match="holds the lease"), other.lease_held(time.monotonic()):
            pass
    with other.lease_held(time.monotonic() + 10):
        pass


def test_a_crashed_holders_claim_blocks_until_it_expires_then_is_removed(
    slapd_pair, slapd_pair_ou, tmp_path
):
    other = lock_for(slapd_pair, slapd_pair_ou, tmp_path, "b", slapd_pair.urls)
    with other.lease_held(time.monotonic()):
        pass
    settings = pair_settings(slapd_pair, slapd_pair_ou, tmp_path / "x", slapd_pair.urls)
    dead = "dead-host:4242:0badc0de"
    claim = f"cn={dead},{other.lease.dn}"
    alive = granted(dead, datetime.now(UTC), 60).to_value()
    with Directory.open(settings.ldap) as directory:
        directory.create_lease(claim, alive)
    with pytest.raises(LockBusy, match=dead), other.lease_held(time.monotonic()):
        pass
    expired = granted(dead, datetime.now(UTC) - timedelta(seconds=120), 60).to_value()
    with Directory.open(settings.ldap) as directory:
        directory.swap_lease(claim, (alive,), expired)
    with other.lease_held(time.monotonic() + 10), Directory.open(settings.ldap) as directory:
        assert list(directory.read_claims(other.lease.dn)) == [other.lease.claim_dn]


def test_a_claim_that_does_not_replicate_stops_the_run_as_unavailable(
    slapd_pair: ReplicatedPair, slapd_pair_ou, tmp_path
):
    lock = lock_for(slapd_pair, slapd_pair_ou, tmp_path, "a", slapd_pair.urls, lease_seconds=6)
    try:
        with consumer_stopped(slapd_pair.second):
            with (
                pytest.raises(DirectoryUnavailable, match=r"has not reached .* is not running"),
                lock.lease_held(time.monotonic() + 10),
            ):
                pass
            settings = pair_settings(slapd_pair, slapd_pair_ou, tmp_path / "x", slapd_pair.urls)
            with Directory.open(settings.ldap) as directory:
                assert directory.read_claims(lock.lease.dn) == {}
    finally:
        slapd_pair.wait_replicating()
    with lock.lease_held(time.monotonic() + 10):
        pass


def test_a_holder_whose_first_provider_dies_renews_on_the_other_and_keeps_others_out(
    slapd_pair: ReplicatedPair, slapd_pair_ou, tmp_path
):
    holder = lock_for(slapd_pair, slapd_pair_ou, tmp_path, "a", slapd_pair.urls, lease_seconds=9)
    other = lock_for(slapd_pair, slapd_pair_ou, tmp_path, "b", slapd_pair.urls[::-1])
    settings = pair_settings(slapd_pair, slapd_pair_ou, tmp_path / "x", slapd_pair.urls)
    on_second = settings.ldap.model_copy(update={"url": slapd_pair.second.url})

    def claim_on_second():
        with Directory.open(on_second) as directory:
            return directory.read_lease(holder.lease.claim_dn)

    with holder.lease_held(time.monotonic()):
        slapd_pair.first.halt(signal.SIGKILL)
        taken = claim_on_second()
        limit = time.monotonic() + 30
        while claim_on_second() == taken and time.monotonic() < limit:
            time.sleep(0.05)
        renewed = claim_on_second()
        assert renewed != taken and parse_lease(renewed[0]).holder == holder.lease.holder
        assert not holder.lease.lost.is_set()
        with pytest.raises(LockBusy, match="holds the lease"), other.lease_held(time.monotonic()):
            pass
    with other.lease_held(time.monotonic() + 10):
        pass


def test_the_sync_account_takes_and_gives_back_claims_under_the_shipped_acls(
    acl_slapd, sync_settings_for, seed
):
    """The same slapd named twice stands for two providers: the ACLs, not replication, matter."""
    names = [acl_slapd.url, acl_slapd.url.replace("127.0.0.1", "localhost")]
    settings = sync_settings_for(seed, ldap={"url": names})
    lock = RunLock(settings)
    assert isinstance(lock.lease, ReplicatedLease)
    report = locked_run(lock, settings, 0)
    assert report.ok, report.failure
    with Directory.open(settings.ldap) as directory:
        assert directory.read_claims(lock.lease.dn) == {}


def test_an_acl_without_the_claims_says_what_to_grant(acl_slapd, sync_settings_for, seed):
    names = [acl_slapd.url, acl_slapd.url.replace("127.0.0.1", "localhost")]
    settings = sync_settings_for(seed, ldap={"url": names})
    single_entry_only = shipped_acl().replace("{8}to dn.subtree=", "{8}to dn.base=")
    assert single_entry_only != shipped_acl()
    acl_slapd.ldapmodify(single_entry_only)
    try:
        report = locked_run(RunLock(settings), settings, 0)
    finally:
        acl_slapd.ldapmodify(shipped_acl())
    assert report.exit_code == 2
    assert "write access to cn=portal-sync-lock,dc=example,dc=org and below it" in report.failure
