"""SIGTERM stops `portal-sync run` only at a safe point (issue: SIGTERM handling).

The signal handler only asks for the stop; the run stops between write
stages, before it connects, after it read the source or while it waits for
the lock. A signal that arrives while the run waits for the directory's
answers therefore never loses track of what was written: the history entry
counts exactly the entries in the directory, the lease is freed and the
next run starts at once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from daemons import environment, wait_for, write_source
from documents import big_document

from sync.clock import now
from sync.core.lease import granted
from sync.core.report import ExitCode
from sync.ldap.directory import Directory
from sync.ldap.localserver import LocalServer
from sync.run.lock import RunLock, locked_run
from sync.service.history import History
from sync.settings import load_settings

from directory_view import ldapi_search

pytestmark = pytest.mark.slapd

EXTERNAL = "(businessCategory=portal-sync:external:*)"
LEASE = "cn=portal-sync-lock"
TOKEN = "cn=portal-sync-state"


def entries(server: LocalServer) -> set[str]:
    """Return the DNs below the suffix, without the run lease and the state token (not
    changes of the plan)."""
    found = ldapi_search(server, "(objectClass=*)", "1.1")
    dns = {line[4:] for line in found.splitlines() if line.startswith("dn: ")}
    return {dn for dn in dns if LEASE not in dn.lower() and TOKEN not in dn.lower()}


def external_users(server: LocalServer) -> set[str]:
    found = ldapi_search(server, EXTERNAL, "1.1")
    return {line[4:] for line in found.splitlines() if line.startswith("dn: ")}


def signal_pending(pid: int, signum: int) -> bool:
    """Return whether `signum` still waits to be delivered to the process `pid`."""
    bit = 1 << (signum - 1)
    status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    for line in status.splitlines():
        name, _, value = line.partition(":")
        if name in ("SigPnd", "ShdPnd") and int(value.strip(), 16) & bit:
            return True
    return False


def settings_of(server: LocalServer, tmp_path: Path):
    return load_settings(
        ldap={
            "url": server.url,
            "bind_dn": server.root_dn,
            "bind_password": server.root_pw,
            "base_dn": server.suffix,
        },
        source={"path": tmp_path / "source.json"},
        state_dir=tmp_path / "state",
    )


def test_sigterm_while_the_directory_does_not_answer_counts_exactly_what_was_written(
    slapd, tmp_path
):
    source = tmp_path / "source.json"
    write_source(source, big_document(customers=60, persons=20))
    before = entries(slapd)
    env = environment(slapd, source, tmp_path / "state", LDAP__TIMEOUT=30)
    process = subprocess.Popen(
        [sys.executable, "-m", "sync", "run"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    wait_for(lambda: external_users(slapd), "the first adds", timeout=120)
    # freeze slapd mid-apply: the run waits for the answers of the writes it sent
    assert slapd._proc is not None
    os.kill(slapd._proc.pid, signal.SIGSTOP)
    try:
        process.send_signal(signal.SIGTERM)
        wait_for(lambda: not signal_pending(process.pid, signal.SIGTERM), "the signal delivered")
    finally:
        os.kill(slapd._proc.pid, signal.SIGCONT)
    _, err = process.communicate(timeout=120)

    assert process.returncode == ExitCode.INTERRUPTED == 143, (process.returncode, err.decode())
    assert b"interrupted" in err, err.decode()
    settings = settings_of(slapd, tmp_path)
    [last] = History(settings.state_dir, 10).reports(1)
    assert last["outcome"] == "interrupted", last
    written = entries(slapd) - before
    assert set(last["counts"]) <= {"add", "add-container"}, last["counts"]
    assert sum(last["counts"].values()) == len(written), (last["counts"], len(written))

    report = locked_run(RunLock(settings), settings, 0)  # lock.wait 0: the lease must be free

    assert report.ok, report.to_text(verbose=False)


def test_sigterm_while_waiting_for_the_lease_stops_at_once_and_takes_nothing(slapd, tmp_path):
    source = tmp_path / "source.json"
    write_source(source, big_document(customers=5, persons=2))
    settings = settings_of(slapd, tmp_path)
    lease = f"{LEASE},{slapd.suffix}"
    other = granted("elsewhere:1:cafe", now(), 3600).to_value()
    with Directory.open(settings.ldap) as directory:
        directory.delete_lease(lease)
        directory.create_lease(lease, other)
    before = entries(slapd)
    env = environment(slapd, source, tmp_path / "state", LOGGING__LEVEL="INFO", LOCK__WAIT=3600)
    log = tmp_path / "stderr.txt"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "sync", "run"], env=env, cwd=tmp_path, stderr=stderr
        )
        wait_for(lambda: b"waiting for the lease" in log.read_bytes(), "the run to wait")
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    err = log.read_text(encoding="utf-8")

    assert process.returncode == 143, (process.returncode, err)
    assert "interrupted" in err, err
    [last] = History(settings.state_dir, 10).reports(1)
    assert last["outcome"] == "interrupted", last
    assert last["counts"] == {}, last
    assert entries(slapd) == before
    with Directory.open(settings.ldap) as directory:
        assert directory.read_lease(lease) == (other,), "the waiting run wrote the lease"
        directory.delete_lease(lease)  # the other run ends

    report = locked_run(RunLock(settings), settings, 0)

    assert report.ok, report.to_text(verbose=False)
