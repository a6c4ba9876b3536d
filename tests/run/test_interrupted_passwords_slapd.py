"""Accounts added by an interrupted run get their initial password in the next (issue 19, point 6).

`portal-sync run` is stopped mid-apply by SIGTERM, or the directory is
killed (SIGKILL) mid-run; the accounts that run added must get a password
in the next run, so that every user can bind. SIGTERM ends the run with a
message and a history entry (outcome interrupted) and releases the run
lease, so the next run starts at once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemons import Daemon, environment, wait_for, write_source
from documents import big_document
from ldap3 import NONE, Connection, Server

from sync.core.report import ExitCode
from sync.ldap.localserver import LocalServer
from sync.run.lock import RunLock, locked_run
from sync.service.history import History
from sync.settings import load_settings

from conftest import empty_tree, running
from directory_view import ldapi_search

pytestmark = pytest.mark.slapd

EXTERNAL = "(businessCategory=portal-sync:external:*)"


def external_users(server: LocalServer) -> set[str]:
    found = ldapi_search(server, EXTERNAL, "1.1")
    return {line[4:] for line in found.splitlines() if line.startswith("dn: ")}


def without_password(server: LocalServer) -> set[str]:
    found = ldapi_search(server, f"(&{EXTERNAL}(!(userPassword=*)))", "1.1")
    return {line[4:] for line in found.splitlines() if line.startswith("dn: ")}


def delivered(path: Path) -> dict[str, str]:
    """Return the last initial password delivered per login."""
    passwords: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        login, _, password = line.partition("\t")
        passwords[login] = password
    return passwords


def everyone_binds(server: LocalServer, passwords: dict[str, str]) -> None:
    users = external_users(server)
    assert users
    for dn in users:
        login = dn.split(",", 1)[0].removeprefix("uid=")
        connection = Connection(Server(server.url, get_info=NONE), dn, passwords.get(login, "-"))
        assert connection.bind(), f"{login} cannot bind with its delivered password"
        connection.unbind()


def started_run(
    server: LocalServer, tmp_path: Path, **settings: object
) -> tuple[subprocess.Popen[bytes], dict]:
    source = tmp_path / "source.json"
    write_source(source, big_document(customers=60, persons=20))
    env = environment(
        server,
        source,
        tmp_path / "state",
        PASSWORDS__EXTERNAL="initial",
        PASSWORDS__INITIAL_FILE=tmp_path / "initial.txt",
        LDAP__TIMEOUT=5,
        **settings,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "sync", "run"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    return process, env


def settings_of(server: LocalServer, tmp_path: Path, **overrides: object):
    return load_settings(
        ldap={
            "url": server.url,
            "bind_dn": server.root_dn,
            "bind_password": server.root_pw,
            "base_dn": server.suffix,
        },
        source={"path": tmp_path / "source.json"},
        state_dir=tmp_path / "state",
        passwords={"external": "initial", "initial_file": tmp_path / "initial.txt"},
        **overrides,
    )


def test_sigterm_mid_apply_ends_the_run_with_a_report_and_the_next_run_sets_the_passwords(
    slapd, tmp_path
):
    process, _ = started_run(slapd, tmp_path)
    wait_for(lambda: external_users(slapd), "the first adds", timeout=120)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)

    assert process.returncode == 143, (process.returncode, err.decode())
    assert b"interrupted" in err, err.decode()
    settings = settings_of(slapd, tmp_path)
    [last] = History(settings.state_dir, 10).reports(1)
    assert last["outcome"] == "interrupted", last
    assert without_password(slapd), "the run was stopped before every password was set"

    report = locked_run(RunLock(settings), settings, 0)  # lock.wait 0: the lease must be free

    assert report.ok, report.to_text(verbose=False)
    assert without_password(slapd) == set()
    everyone_binds(slapd, delivered(tmp_path / "initial.txt"))


@pytest.fixture
def own_slapd() -> Iterator[LocalServer]:
    server = LocalServer()
    yield from running(server)


def test_a_directory_killed_mid_run_leaves_no_account_without_a_password(own_slapd, tmp_path):
    empty_tree(own_slapd)
    # the lease stays in the killed directory until it expires: this run takes none
    process, _ = started_run(own_slapd, tmp_path, LOCK__LEASE="false")
    wait_for(lambda: external_users(own_slapd), "the first adds", timeout=120)
    own_slapd._proc.kill()
    own_slapd.wait()
    process.communicate(timeout=120)
    assert process.returncode == ExitCode.UNAVAILABLE

    own_slapd._start_slapd()
    assert without_password(own_slapd), "the run was stopped before every password was set"
    settings = settings_of(own_slapd, tmp_path, lock={"lease": False})
    report = locked_run(RunLock(settings), settings, 0)

    assert report.ok, report.to_text(verbose=False)
    assert without_password(own_slapd) == set()
    everyone_binds(own_slapd, delivered(tmp_path / "initial.txt"))


def test_a_daemon_past_its_shutdown_timeout_leaves_no_account_without_a_password(slapd, tmp_path):
    source, state = tmp_path / "source.json", tmp_path / "state"
    write_source(source, big_document(customers=60, persons=20))
    env = environment(
        slapd,
        source,
        state,
        PASSWORDS__EXTERNAL="initial",
        PASSWORDS__INITIAL_FILE=tmp_path / "initial.txt",
        SCHEDULE__INTERVAL=3600,
        SCHEDULE__SHUTDOWN_TIMEOUT=0.2,
    )
    with Daemon(env, tmp_path) as daemon:
        wait_for(lambda: external_users(slapd), "the first adds", timeout=120)
        # freeze slapd so that the run cannot finish within the timeout, however fast the
        # machine; thaw it once the daemon has given up
        os.kill(slapd._proc.pid, signal.SIGSTOP)
        try:
            assert daemon.process is not None
            daemon.process.send_signal(signal.SIGTERM)
            wait_for(lambda: "did not finish within 0.2 s" in daemon.log, "the daemon to give up")
        finally:
            os.kill(slapd._proc.pid, signal.SIGCONT)
        assert daemon.process.wait(timeout=20) == 0
    assert without_password(slapd), "the run was abandoned before every password was set"

    after = subprocess.run(
        [sys.executable, "-m", "sync", "run", "--wait", "0"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip

    assert after.returncode == 0, after.stdout + after.stderr
    assert without_password(slapd) == set()
    everyone_binds(slapd, delivered(tmp_path / "initial.txt"))


def test_an_owed_initial_password_is_forgotten_when_the_mode_is_no_longer_initial(
    settings_for, slapd, seed
):
    """A key left pending by an interrupted run in `initial` mode, then `source-hash`: the
    password set in the directory since is not overwritten, and nothing stays owed."""
    import json

    from portal_helpers import with_hashes

    from sync.run.sync import run_sync

    modes = {"internal": "source-hash", "external": "source-hash"}
    settings = settings_for(with_hashes(seed), passwords=modes)
    assert run_sync(settings).ok
    state = settings.state_dir / "passwords.json"
    data = json.loads(state.read_text(encoding="utf-8"))
    key = next(k for k in data["written"] if k.startswith("external:"))
    data["pending"] = [key]
    state.write_text(json.dumps(data), encoding="utf-8")
    [dn] = [
        line[4:]
        for line in ldapi_search(slapd, f"(businessCategory=portal-sync:{key})", "1.1").splitlines()
        if line.startswith("dn: ")
    ]
    with Connection(Server(slapd.url, get_info=NONE), slapd.root_dn, slapd.root_pw) as conn:
        assert conn.bind() and conn.extend.standard.modify_password(dn, new_password="Hand-Set-1")
    for _ in range(2):
        assert run_sync(settings, full=True).ok
    with Connection(Server(slapd.url, get_info=NONE), dn, "Hand-Set-1") as user:
        assert user.bind(), f"{dn}: the password set in the directory was overwritten"
    assert json.loads(state.read_text(encoding="utf-8")).get("pending", []) == []
