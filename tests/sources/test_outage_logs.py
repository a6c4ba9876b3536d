"""A known outage logs one line that says what to do; tracebacks only at debug level."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from daemons import Daemon, environment, uids, wait_for

from servers import SourceServer

pytest_plugins = ["servers.fixtures", "sql_workflow"]

EXAMPLES = Path(__file__).parents[2] / "config" / "examples"
SEED = json.loads((EXAMPLES / "seed-scenario.json").read_text("utf-8"))


def notify_daemon(slapd, tmp_path, workflow, **settings: Any) -> Daemon:
    env = environment(
        slapd,
        tmp_path / "unused.json",
        tmp_path / "state",
        SOURCE__KIND="sql",
        SOURCE__SQL__URL=workflow.url,
        SOURCE__SQL__PASSWORD=workflow.password,
        SOURCE__SQL__QUERIES=EXAMPLES / "sql" / "queries.toml",
        SOURCE__SQL__POLL_INTERVAL=0,
        SOURCE__SQL__NOTIFY_CHANNEL="portal_sync",
        SCHEDULE__INTERVAL=3600,
        **settings,
    )
    return Daemon(env, tmp_path)


def test_postgresql_stopped_under_a_daemon_with_notify_logs_one_line(
    slapd, tmp_path, postgres, workflow_pg
):
    with notify_daemon(slapd, tmp_path, workflow_pg) as daemon:
        wait_for(lambda: "portal-sync: success" in daemon.log, "the first run's summary")
        wait_for(lambda: "listening for NOTIFY" in daemon.log, "the listener")
        mark = len(daemon.log)
        with postgres.down():
            wait_for(
                lambda: "NOTIFY on portal_sync:" in daemon.log[mark:], "the listener to notice"
            )
        wait_for(
            lambda: "listening for NOTIFY" in daemon.log[mark:], "the listener to listen again"
        )
        outage = daemon.log[mark:].split("listening for NOTIFY")[0]
        lines = outage.splitlines()[:-1]
        assert len(lines) == 1, outage
        [line] = lines
        assert " WARNING portal_sync.source: NOTIFY on portal_sync: " in line
        assert "Connection refused" in line or "closed the connection" in line
        assert "check that" in line, "it says what to do"


def records(log: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.splitlines() if line.startswith("{")]


def test_at_debug_level_the_retries_and_the_traceback_are_there_and_only_one_warning(
    slapd, tmp_path, postgres, workflow_pg
):
    with notify_daemon(
        slapd, tmp_path, workflow_pg, LOGGING__LEVEL="DEBUG", LOGGING__FORMAT="json"
    ) as daemon:
        wait_for(lambda: "cdubois" in uids(slapd), "the first run")
        wait_for(lambda: "listening for NOTIFY" in daemon.log, "the listener")
        mark = len(daemon.log)

        def tries() -> int:
            return sum("NOTIFY on portal_sync:" in r["message"] for r in records(daemon.log[mark:]))

        with postgres.down():
            wait_for(lambda: tries() >= 3, "the listener to try three times")
        seen = records(daemon.log[mark:])
    loud = [r for r in seen if r["level"] in ("WARNING", "ERROR", "CRITICAL")]
    assert [r["logger"] for r in loud] == ["portal_sync.source"], loud
    assert not [r for r in seen if "exception" in r and r["level"] != "DEBUG"]
    assert [r for r in seen if "exception" in r], "the traceback is there at debug level"


def test_a_daemon_watching_an_http_export_does_not_log_each_request(
    slapd, tmp_path, http_source: SourceServer
):
    http_source.publish("/export.json", SEED)
    env = environment(
        slapd,
        tmp_path / "unused.json",
        tmp_path / "state",
        SOURCE__KIND="http",
        SOURCE__HTTP__URL=http_source.url_for("/export.json"),
        SOURCE__HTTP__POLL_INTERVAL=0.2,
        SCHEDULE__INTERVAL=3600,
    )
    with Daemon(env, tmp_path) as daemon:
        wait_for(lambda: "cdubois" in uids(slapd), "the first run")
        asked = len(http_source.requests)
        wait_for(lambda: len(http_source.requests) >= asked + 3, "three conditional requests")
        assert "HTTP Request:" not in daemon.log
