"""End-to-end: daemons and one-shot runs never write at the same time."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from daemons import (
    TOKEN,
    Daemon,
    environment,
    lock_is_held,
    uids,
    wait_for,
    write_source,
)

from benchmarks.trigger_latency import seed_with
from sync.core.lease import blocking
from sync.service.history import History

# enough people that the run is still writing when the test first sees it write (one at a time)
PERSONS = 4000


def history(state: Path) -> list[dict[str, Any]]:
    return History(state, 1000).reports()


def spans(reports: list[dict[str, Any]]) -> list[tuple[datetime, datetime]]:
    """Return when each run worked on the directory: from taking the lease to its end.

    A run reads its source before it takes the lease, so the reports' start
    times may overlap; the time on the directory may not.
    """
    return sorted(
        (datetime.fromisoformat(r["directory_started"]), datetime.fromisoformat(r["finished"]))
        for r in reports
    )


def assert_disjoint(intervals: list[tuple[datetime, datetime]]) -> None:
    for (_, end), (start, _) in itertools.pairwise(intervals):
        assert start >= end, f"a run started at {start} while another ran until {end}"


def lease_values(server) -> tuple[str, ...]:
    found = subprocess.run(
        ["ldapsearch", "-LLL", "-H", server.ldapi_uri, "-Y", "EXTERNAL", "-Q", "-b",
         f"cn=portal-sync-lock,{server.suffix}", "-s", "base", "-o", "ldif-wrap=no",
         "(objectClass=*)", "description"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return tuple(line[13:] for line in found.splitlines() if line.startswith("description: "))


def test_a_one_shot_run_during_a_daemon_run_waits_for_it(slapd, tmp_path, seed):
    source, state = tmp_path / "source.json", tmp_path / "state"
    write_source(source, seed_with(800))
    env = environment(slapd, source, state, schedule__interval=3600, schedule__watch_interval=0)
    with Daemon(env, tmp_path) as daemon:
        wait_for(lambda: lock_is_held(state / "run.lock"), "the daemon's start-up run")
        launched = datetime.now(UTC)
        one_shot = subprocess.run(
            [sys.executable, "-m", "sync", "run", "--json", "--wait", "120"],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        daemon.signal()
    assert one_shot.returncode == 0, one_shot.stderr
    one_shot_report = json.loads(one_shot.stdout)
    daemon_report, recorded_one_shot = history(state)
    assert daemon_report["counts"]["add"] > 800
    assert launched < datetime.fromisoformat(daemon_report["finished"]), "no overlap was tried"
    assert datetime.fromisoformat(one_shot_report["started"]) >= datetime.fromisoformat(
        daemon_report["finished"]
    )
    assert one_shot_report["counts"] == {}
    assert recorded_one_shot["started"] == one_shot_report["started"]


def test_stopping_during_a_run_lets_it_finish_and_releases_the_lock(slapd, tmp_path, seed):
    source, state = tmp_path / "source.json", tmp_path / "state"
    write_source(source, seed_with(800))
    env = environment(slapd, source, state, schedule__interval=3600)
    with Daemon(env, tmp_path) as daemon:
        wait_for(lambda: lock_is_held(state / "run.lock"), "the daemon's start-up run")
        assert daemon.signal() == 0
    (report,) = history(state)
    assert report["outcome"] == "success" and report["counts"]["add"] > 800
    assert len(uids(slapd)) > 800
    assert not lock_is_held(state / "run.lock")
    values = lease_values(slapd)
    assert values and blocking(values, "someone else", datetime.now(UTC)) is None


def test_a_run_longer_than_the_shutdown_timeout_is_abandoned_and_the_next_run_converges(
    slapd, tmp_path, seed
):
    source, state = tmp_path / "source.json", tmp_path / "state"
    write_source(source, seed_with(PERSONS))
    # one write at a time, so that the run outlasts the shutdown timeout (pipelined, it may not)
    env = environment(
        slapd,
        source,
        state,
        schedule__interval=3600,
        schedule__shutdown_timeout=0.2,
        performance__write_window=1,
    )
    with Daemon(env, tmp_path) as daemon:
        wait_for(lambda: lock_is_held(state / "run.lock"), "the daemon's start-up run")
        wait_for(lambda: len(uids(slapd)) > 50, "the run to be writing")
        # freeze slapd so that the run cannot finish within the timeout, however fast the
        # machine; thaw it once the daemon has given up, so that it can give the lease back
        os.kill(slapd._proc.pid, signal.SIGSTOP)
        try:
            assert daemon.process is not None
            daemon.process.send_signal(signal.SIGTERM)
            wait_for(lambda: "did not finish within 0.2 s" in daemon.log, "the daemon to give up")
        finally:
            os.kill(slapd._proc.pid, signal.SIGCONT)
        assert daemon.process.wait(timeout=20) == 0
    assert history(state) == []
    assert 50 < len(uids(slapd)) < PERSONS
    assert blocking(lease_values(slapd), "someone else", datetime.now(UTC)) is None

    after = subprocess.run(
        [sys.executable, "-m", "sync", "run", "--json", "--wait", "0"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert after.returncode == 0, after.stdout + after.stderr
    assert len(uids(slapd)) > PERSONS


def test_two_daemons_never_hold_the_lock_together(slapd, tmp_path, seed):
    source = tmp_path / "source.json"
    write_source(source, seed_with(150))
    states = [tmp_path / "host-a", tmp_path / "host-b"]
    daemons = [
        Daemon(environment(slapd, source, state, schedule__interval=3600), tmp_path, state.name)
        for state in states
    ]
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    with daemons[0], daemons[1]:
        for done in range(1, 4):
            wait_for(lambda n=done: all(len(history(s)) >= n for s in states), "both runs")
            posts = [
                threading.Thread(target=d.request, args=("POST", "/sync", bearer)) for d in daemons
            ]
            for post in posts:
                post.start()
            for post in posts:
                post.join()
        wait_for(lambda: all(len(history(s)) >= 4 for s in states), "the last runs")
        assert [d.signal() for d in daemons] == [0, 0]
    reports = [history(state) for state in states]
    assert all(r["outcome"] == "success" for host in reports for r in host)
    assert_disjoint(spans(reports[0] + reports[1]))
    assert "waiting for the lease" in daemons[0].log + daemons[1].log
