"""The run lock: the file lock on one host, the lease in the directory across hosts."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import pytest
from daemons import environment

from sync.cli import main
from sync.core.lease import blocking, parse_lease
from sync.errors import InsufficientAccess, LeaseConflict, LockBusy
from sync.ldap.directory import Directory
from sync.run.lock import DirectoryLease, FileLock, RunLock, locked_run

NEVER = threading.Event()


def lease_values(settings):
    with Directory.open(settings.ldap) as directory:
        return directory.read_lease(f"cn=portal-sync-lock,{settings.ldap.base_dn}")


def test_a_second_run_on_the_host_waits_for_the_file_lock(tmp_path):
    first, second = FileLock(tmp_path / "run.lock"), FileLock(tmp_path / "run.lock")
    assert first.acquire(time.monotonic(), NEVER)
    assert not second.acquire(time.monotonic() + 0.2, NEVER)
    threading.Timer(0.2, first.release).start()
    assert second.acquire(time.monotonic() + 5, NEVER)
    second.release()


def test_the_lease_keeps_another_host_out_until_it_is_released(settings_for, seed, tmp_path):
    host_a = RunLock(settings_for(seed, state_dir=tmp_path / "a"))
    host_b = RunLock(settings_for(seed, state_dir=tmp_path / "b"))
    with host_a.held(0), pytest.raises(LockBusy, match="holds the lease"), host_b.held(0):
        pass
    with host_b.held(0):
        assert host_b.lease is not None
        lease = parse_lease(lease_values(settings_for(seed))[0])
        assert lease is not None and lease.holder == host_b.lease.holder


def test_a_held_lease_is_renewed_while_the_run_lasts(settings_for, seed, tmp_path):
    settings = settings_for(seed, lock={"lease_seconds": 1})
    holder = RunLock(settings.model_copy(update={"state_dir": tmp_path / "a"}))
    other = RunLock(settings.model_copy(update={"state_dir": tmp_path / "b"}))
    with holder.held(0):
        time.sleep(2.5)
        with pytest.raises(LockBusy), other.held(0):
            pass
    with other.held(0):
        pass


def test_the_lease_swap_is_refused_when_the_old_value_is_gone(settings_for, seed):
    settings = settings_for(seed)
    dn = f"cn=portal-sync-lock,{settings.ldap.base_dn}"
    with Directory.open(settings.ldap) as directory:
        directory.create_lease(dn, "portal-sync-lease holder=a expires=2000-01-01T00:00:00+00:00")
        with pytest.raises(LeaseConflict):
            directory.swap_lease(dn, ["something else"], "portal-sync-lease holder=b")
        assert directory.read_lease(dn) == (
            "portal-sync-lease holder=a expires=2000-01-01T00:00:00+00:00",
        )


def test_a_holder_notices_that_its_lease_was_taken(settings_for, seed):
    settings = settings_for(seed)
    dn = f"cn=portal-sync-lock,{settings.ldap.base_dn}"
    lease = DirectoryLease(settings.ldap, dn, 60, "host-a:1:x")
    lease.acquire(time.monotonic(), NEVER)
    with Directory.open(settings.ldap) as directory:
        directory.swap_lease(dn, directory.read_lease(dn) or (), "taken over by hand")
    assert lease.renew() is False
    assert lease.lost.is_set()
    lease.release()
    assert lease_values(settings) == ("taken over by hand",)


def test_a_crashed_holders_lease_expires(slapd, settings_for, seed, tmp_path):
    settings = settings_for(seed, lock={"lease_seconds": 2}, state_dir=tmp_path / "b")
    env = environment(
        slapd, settings.source.path, tmp_path / "a", lock__lease_seconds=2, lock__wait=0
    )
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\nfrom sync.run.lock import RunLock\nfrom sync.settings import load_settings\n"
            "with RunLock(load_settings()).held(0):\n"
            "    print('held', flush=True)\n    time.sleep(600)\n",
        ],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    holder.kill()
    holder.wait()

    other_host = RunLock(settings)
    with pytest.raises(LockBusy), other_host.held(0):
        pass
    assert blocking(lease_values(settings), "me", datetime.now(UTC)) is not None
    with other_host.held(10):
        assert blocking(lease_values(settings), other_host.lease.holder, datetime.now(UTC)) is None


def test_run_exits_6_with_a_clear_message_while_another_run_holds_the_lock(
    settings_for, seed, tmp_path, monkeypatch, capsys
):
    settings = settings_for(seed, state_dir=tmp_path / "state")
    for key, value in environment_of(settings).items():
        monkeypatch.setenv(key, value)
    busy = FileLock(tmp_path / "state" / "run.lock")
    assert busy.acquire(time.monotonic(), NEVER)
    try:
        assert main(["run", "--wait", "0.2"]) == 6
    finally:
        busy.release()
    assert "another portal-sync run on this host holds" in capsys.readouterr().err
    assert main(["run", "--wait", "0"]) == 0


def environment_of(settings):
    return {
        "PORTAL_SYNC_LDAP__URL": settings.ldap.url,
        "PORTAL_SYNC_LDAP__BIND_DN": settings.ldap.bind_dn,
        "PORTAL_SYNC_LDAP__BIND_PASSWORD": settings.ldap.bind_password.get_secret_value(),
        "PORTAL_SYNC_LDAP__BASE_DN": settings.ldap.base_dn,
        "PORTAL_SYNC_SOURCE__PATH": str(settings.source.path),
        "PORTAL_SYNC_STATE_DIR": str(settings.state_dir),
    }


def test_the_sync_account_takes_the_lease_under_the_shipped_acls(sync_settings_for, seed):
    settings = sync_settings_for(seed)
    report = locked_run(RunLock(settings), settings, 0)
    assert report.ok, report.failure
    values = lease_values(settings)
    assert values and blocking(values, "someone else", datetime.now(UTC)) is None

    portal_account = settings.ldap.model_copy(
        update={"bind_dn": settings.portal.bind_dn, "bind_password": settings.portal.bind_password}
    )
    portal = settings.model_copy(update={"ldap": portal_account})
    with pytest.raises(InsufficientAccess, match="cannot read it"), RunLock(portal).held(0):
        pass
