"""End-to-end: `portal-sync daemon` as a subprocess against a real slapd."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from daemons import (
    TOKEN,
    Daemon,
    add_person,
    environment,
    pause,
    resume,
    uids,
    wait_for,
    write_source,
)

from sync.ldap.localserver import LocalServer

SEED_LOGINS = {"anna.schmidt", "tom.weber", "admin.print", "cdubois", "jsilva"}


@pytest.fixture
def start_daemon(slapd: LocalServer, tmp_path: Path, seed: dict[str, Any]) -> Callable[..., Daemon]:
    """Return a factory of daemons syncing the seed scenario into the test slapd."""
    started: list[Daemon] = []

    def start(server: LocalServer = slapd, **settings: Any) -> Daemon:
        source = tmp_path / "source.json"
        if not source.exists():
            write_source(source, seed)
        settings.setdefault("schedule__interval", 3600)
        env = environment(server, source, tmp_path / "state", **settings)
        daemon = Daemon(env, tmp_path).start()
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.__exit__()


def test_start_up_run_syncs_the_directory_and_is_kept_in_history(start_daemon, slapd, tmp_path):
    daemon = start_daemon()
    wait_for(daemon.healthy, "the start-up run")
    assert uids(slapd) >= SEED_LOGINS

    status = subprocess.run(
        [sys.executable, "-m", "sync", "status", "--json"],
        env=daemon.env,
        capture_output=True,
        text=True,
        check=True,
    )
    reports = json.loads(status.stdout)
    assert [r["outcome"] for r in reports] == ["success"]
    assert reports[0]["counts"]["add"] == 19


def test_a_person_added_to_the_source_reaches_the_directory(start_daemon, slapd, tmp_path, seed):
    daemon = start_daemon()
    wait_for(daemon.healthy, "the start-up run")
    assert "newcomer" not in uids(slapd)

    add_person(seed, "newcomer")
    write_source(tmp_path / "source.json", seed)

    wait_for(lambda: "newcomer" in uids(slapd), "the new person in the directory")
    assert "source changed" in daemon.log


def test_post_sync_is_refused_without_the_token_and_runs_with_it(
    start_daemon, slapd, tmp_path, seed
):
    daemon = start_daemon(schedule__watch_interval=0)
    wait_for(daemon.healthy, "the start-up run")
    add_person(seed, "requested")
    write_source(tmp_path / "source.json", seed)

    no_token, headers, _ = daemon.request("POST", "/sync")
    wrong_token, _, _ = daemon.request("POST", "/sync", {"Authorization": "Bearer nope"})
    assert (no_token, wrong_token) == (401, 401)
    assert headers["WWW-Authenticate"].startswith("Bearer")
    assert daemon.runs() == 1
    assert "requested" not in uids(slapd)

    status, _, body = daemon.request("POST", "/sync", {"Authorization": f"Bearer {TOKEN}"})
    assert status == 202 and json.loads(body)["accepted"] is True
    wait_for(lambda: "requested" in uids(slapd), "the requested run")
    wait_for(lambda: daemon.runs() == 2, "the second run counted")


def test_healthz_and_metrics_answer_with_the_documented_content(start_daemon):
    daemon = start_daemon()
    wait_for(daemon.healthy, "the start-up run")

    status, health = daemon.health()
    assert status == 200
    assert health["status"] == "healthy"
    assert health["last_run"]["outcome"] == "success"
    assert health["last_run"]["counts"]["add"] == 19
    assert health["last_success"] and health["reason"]

    metrics = daemon.metrics()
    ldap = ("target", "ldap")
    assert metrics[("portal_sync_runs_total", (("outcome", "success"), ldap))] == 1
    assert metrics[("portal_sync_runs_total", (("outcome", "directory-unavailable"), ldap))] == 0
    assert metrics[("portal_sync_changes_total", (("op", "add"), ldap))] == 19
    assert metrics[("portal_sync_record_errors_total", (ldap,))] == 0
    assert metrics[("portal_sync_run_duration_seconds_count", (ldap,))] == 1
    assert metrics[("portal_sync_last_success_timestamp_seconds", (ldap,))] > 1.7e9
    assert metrics[("portal_sync_managed_entries", (("kind", "external"), ldap))] >= 2
    assert metrics[("portal_sync_healthy", ())] == 1


def test_an_outage_of_the_directory_is_survived_and_healed(start_daemon, tmp_path, seed):
    with LocalServer() as own:
        daemon = start_daemon(own, schedule__retry_initial=0.2, schedule__retry_max=1)
        wait_for(daemon.healthy, "the start-up run")

        pause(own)
        add_person(seed, "duringoutage")
        write_source(tmp_path / "source.json", seed)
        _status, health = wait_for(
            lambda: (h := daemon.health())[0] == 503 and h, "/healthz to turn unhealthy"
        )
        assert "directory-unavailable" in health["reason"]
        assert health["failing_since"] > health["last_success"]
        wait_for(lambda: daemon.runs("directory-unavailable") >= 3, "a few retries")
        assert daemon.alive

        resume(own)
        wait_for(daemon.healthy, "/healthz to turn healthy again")
        assert "duringoutage" in uids(own)
        assert daemon.log.count("outage:") == 1
        assert daemon.log.count("recovered:") == 1
        assert daemon.log.count("directory-unavailable in") <= 1
        daemon.signal()


def test_an_unreadable_source_makes_the_daemon_unhealthy_until_it_is_fixed(
    start_daemon, slapd, tmp_path, seed
):
    daemon = start_daemon(schedule__retry_initial=0.2, schedule__retry_max=1)
    wait_for(daemon.healthy, "the start-up run")
    source = tmp_path / "source.json"

    source.write_text('{"format_version": 1, "customers": [', encoding="utf-8")
    _, health = wait_for(lambda: (h := daemon.health())[0] == 503 and h, "unhealthy")
    assert "source-error" in health["reason"] and "not valid JSON" in health["reason"]
    assert len(uids(slapd)) >= len(SEED_LOGINS)

    add_person(seed, "afterfix")
    write_source(source, seed)
    wait_for(daemon.healthy, "healthy again")
    assert "afterfix" in uids(slapd)
    assert daemon.log.count("outage: source-error") == 1
    assert daemon.log.count("recovered:") == 1


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_ends_the_daemon_cleanly(start_daemon, number):
    daemon = start_daemon()
    wait_for(daemon.healthy, "the start-up run")

    assert daemon.signal(number) == 0
    assert "stopped" in daemon.log
    assert "Traceback" not in daemon.log


def test_secrets_come_from_systemd_credentials(slapd, tmp_path, seed):
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "ldap__bind_password").write_text(slapd.root_pw, encoding="utf-8")
    (credentials / "http__token").write_text("from-credentials", encoding="utf-8")
    write_source(tmp_path / "source.json", seed)
    env = environment(slapd, tmp_path / "source.json", tmp_path / "state")
    del env["PORTAL_SYNC_LDAP__BIND_PASSWORD"]
    env["CREDENTIALS_DIRECTORY"] = str(credentials)
    with Daemon(env, tmp_path) as daemon:
        wait_for(daemon.healthy, "the start-up run, bound with the credential")
        status, _, _ = daemon.request("POST", "/sync", {"Authorization": "Bearer from-credentials"})
        assert status == 202
        assert daemon.signal() == 0


def test_secrets_never_appear_in_the_log(start_daemon, slapd):
    daemon = start_daemon(logging__level="DEBUG", logging__format="json")
    wait_for(daemon.healthy, "the start-up run")
    daemon.request("POST", "/sync", {"Authorization": f"Bearer {TOKEN}"})
    daemon.request("POST", "/sync", {"Authorization": "Bearer wrong"})
    daemon.signal()

    lines = [json.loads(line) for line in daemon.log.splitlines() if line.strip()]
    assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    assert slapd.root_pw not in daemon.log
    assert TOKEN not in daemon.log


def test_settings_the_daemon_cannot_start_with_end_it_with_exit_2(slapd, tmp_path, seed):
    write_source(tmp_path / "source.json", seed)
    env = environment(slapd, tmp_path / "source.json", tmp_path / "state")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        results = [
            subprocess.run(
                [sys.executable, "-m", "sync", "daemon"],
                env={**env, **extra},
                capture_output=True,
                text=True,
                timeout=30,
            )
            for extra in (
                {"PORTAL_SYNC_SCHEDULE__CRON": "every tuesday"},
                {"PORTAL_SYNC_HTTP__PORT": str(port)},
            )
        ]
    assert [r.returncode for r in results] == [2, 2]
    assert "not a crontab expression" in results[0].stderr
    assert f"cannot listen on 127.0.0.1:{port}" in results[1].stderr
