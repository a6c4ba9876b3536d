"""A replicated OpenLDAP: the sync writes to the first provider, survives its crash, converges."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

from ldap3 import MODIFY_REPLACE
from replication_helpers import (
    big_document,
    binds,
    count_users,
    managed_keys,
    pair_settings,
    password_of,
    server_ids_of_writes,
    small_document,
    users_without_their_password,
    wait_same_context_csn,
)

from sync.core.report import Outcome
from sync.run.lock import RunLock, locked_run

from servers.replication import ReplicatedPair

pytest_plugins = ["servers.fixtures"]

CUSTOMERS, PERSONS = 60, 20
USERS = CUSTOMERS * PERSONS


def run(settings, **options):
    return locked_run(RunLock(settings), settings, 0, **options)


def test_the_sync_writes_to_the_first_server_of_the_list(slapd_pair, slapd_pair_ou, tmp_path):
    forward = pair_settings(slapd_pair, slapd_pair_ou, tmp_path / "a", slapd_pair.urls)
    report = run(forward)
    assert report.ok and report.changes, report.to_text(verbose=False)
    assert server_ids_of_writes(slapd_pair.second, slapd_pair_ou, "(uid=user-*)") == {"001"}

    document = small_document()
    document["customers"][0]["persons"][1]["last_name"] = "Renamed"
    backward = pair_settings(
        slapd_pair, slapd_pair_ou, tmp_path / "b", slapd_pair.urls[::-1], document
    )
    report = run(backward)
    assert report.ok and len(report.changes) == 1, report.to_text(verbose=False)
    wait_same_context_csn(slapd_pair)
    assert server_ids_of_writes(slapd_pair.first, slapd_pair_ou, "(sn=Renamed)") == {"002"}
    assert server_ids_of_writes(slapd_pair.first, slapd_pair_ou, "(sn=L0)") == {"001"}
    assert slapd_pair.differences(slapd_pair_ou) == []


def test_a_provider_killed_mid_run_then_the_survivor_then_both_agree(
    slapd_pair: ReplicatedPair, slapd_pair_ou, tmp_path
):
    first, second = slapd_pair.first, slapd_pair.second
    base = slapd_pair_ou
    settings = pair_settings(
        slapd_pair,
        base,
        tmp_path / "a",
        slapd_pair.urls,
        big_document(CUSTOMERS, PERSONS),
        passwords={"external": "source-hash"},
        safety={"max_deletions": 100_000},
    )
    result = {}
    thread = threading.Thread(target=lambda: result.update(report=run(settings)))
    thread.start()
    limit = time.monotonic() + 120
    while count_users(first, base) < 200 and thread.is_alive() and time.monotonic() < limit:
        time.sleep(0.02)
    first.halt(signal.SIGKILL)
    thread.join(120)
    killed = result["report"]
    assert killed.outcome is Outcome.UNAVAILABLE and int(killed.exit_code) == 3, killed.to_text(
        verbose=False
    )
    assert 0 < count_users(second, base) < USERS

    changed = f"uid=user-0-1,ou=external,{base}"
    with second.connection() as conn:
        assert conn.modify(changed, {"userPassword": [(MODIFY_REPLACE, ["changed-by-user"])]})

    survivor = run(settings)
    assert survivor.ok and not survivor.errors, survivor.to_text(verbose=False)
    keys = managed_keys(second, base)
    assert len(keys) == len(set(keys)), "an entry exists twice on the survivor"
    assert count_users(second, base) == USERS
    assert run(settings, full=True).changes == []

    first.resume()
    wait_same_context_csn(slapd_pair)
    assert slapd_pair.differences(base) == []
    keys = managed_keys(first, base)
    assert len(keys) == len(set(keys)) and count_users(first, base) == USERS
    logins = [f"user-{c}-{p}" for c in range(CUSTOMERS) for p in range(PERSONS)]
    logins.remove("user-0-1")
    for provider in (first, second):
        assert users_without_their_password(provider, base, logins) == []
        assert users_without_their_password(provider, base, ["user-0-1"]) == ["user-0-1"]
        assert binds(provider, changed, "changed-by-user")
        assert not binds(provider, changed, password_of("user-0-1"))
        for c in range(0, CUSTOMERS, 7):
            login = f"user-{c}-{PERSONS - 1}"
            assert binds(provider, f"uid={login},ou=external,{base}", password_of(login)), login
    assert run(settings, full=True).changes == []


def test_each_provider_down_in_turn_leaves_one_entry_per_record_on_both(
    slapd_pair: ReplicatedPair, slapd_pair_ou, tmp_path
):
    """Writes the other provider never received, then the same records written there."""
    first, second = slapd_pair.first, slapd_pair.second
    base = slapd_pair_ou
    settings = pair_settings(
        slapd_pair,
        base,
        tmp_path / "a",
        slapd_pair.urls,
        big_document(3, 4),
        passwords={"external": "source-hash"},
    )
    second.halt(signal.SIGKILL)
    assert run(settings).ok
    first.halt(signal.SIGKILL)
    second.resume()
    on_second = run(settings)
    assert on_second.ok and on_second.changes, on_second.to_text(verbose=False)
    for_the_survivor = [f"user-{c}-{p}" for c in range(3) for p in range(4)]
    assert count_users(second, base) == 12
    assert users_without_their_password(second, base, for_the_survivor) == []

    first.resume()
    wait_same_context_csn(slapd_pair)
    assert slapd_pair.differences(base) == []
    logins = [f"user-{c}-{p}" for c in range(3) for p in range(4)]
    for provider in (first, second):
        keys = managed_keys(provider, base)
        assert len(keys) == len(set(keys)) == 3 + 12 + 3 + 1 + 1
        assert users_without_their_password(provider, base, logins) == []
    assert run(settings, full=True).changes == []


def portal_sync(config, *args):
    return subprocess.run(
        [sys.executable, "-m", "sync", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("PORTAL_SYNC_")},
    )


def test_the_command_line_takes_the_list_from_toml_and_says_which_server_answers(
    slapd_pair: ReplicatedPair, slapd_pair_ou, tmp_path
):
    source = tmp_path / "source.json"
    source.write_text(json.dumps(small_document()), encoding="utf-8")
    urls = ", ".join(f'"{url}"' for url in slapd_pair.urls)
    config = tmp_path / "portal-sync.toml"
    config.write_text(
        f'state_dir = "{tmp_path / "state"}"\n'
        f'[ldap]\nurl = [{urls}]\nbind_dn = "{slapd_pair.first.root_dn}"\n'
        f'bind_password = "{slapd_pair.first.root_pw}"\nbase_dn = "{slapd_pair_ou}"\n'
        "timeout = 3\n"
        f'[source]\npath = "{source}"\n',
        encoding="utf-8",
    )
    slapd_pair.first.halt(signal.SIGKILL)
    check = portal_sync(config, "check")
    assert check.returncode == 0, check.stdout + check.stderr
    first, second = slapd_pair.urls
    assert f"server 1 of 2, {first}: NOT usable" in check.stdout
    assert f"server 2 of 2, {second}: ok" in check.stdout
    assert "lease: a claim per run" in check.stdout

    run_ = portal_sync(config, "run")
    assert run_.returncode == 0, run_.stdout + run_.stderr
    assert f"{first} did not answer: this run works on {second} (server 2 of 2" in run_.stderr
    assert server_ids_of_writes(slapd_pair.second, slapd_pair_ou, "(uid=user-*)") == {"002"}

    slapd_pair.second.halt(signal.SIGKILL)
    down = portal_sync(config, "run")
    assert down.returncode == 3, down.stdout + down.stderr
    assert "none of the 2 servers of" in down.stderr and "unavailable" in down.stderr


def test_the_first_run_on_another_provider_reads_everything_there(
    slapd_pair: ReplicatedPair, slapd_pair_ou, tmp_path
):
    """The survivor may lack what the last run wrote: the state of that run does not fit it."""
    first, second = slapd_pair.first, slapd_pair.second
    base = slapd_pair_ou
    folder = tmp_path / "a"
    before = pair_settings(slapd_pair, base, folder, slapd_pair.urls, big_document(2, 2))
    assert run(before).ok
    wait_same_context_csn(slapd_pair)
    second.halt(signal.SIGKILL)
    grown = pair_settings(slapd_pair, base, folder, slapd_pair.urls, big_document(2, 3))
    assert run(grown).ok and count_users(first, base) == 6
    first.halt(signal.SIGKILL)
    second.resume()
    assert count_users(second, base) == 4
    on_second = run(grown)
    assert on_second.ok, on_second.to_text(verbose=False)
    assert count_users(second, base) == 6
    assert run(grown).changes == []
