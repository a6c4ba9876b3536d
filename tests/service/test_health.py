"""When /healthz says healthy, and why not: a table of cases, no server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sync.core.problems import RecordError
from sync.core.report import Outcome, Report
from sync.service.health import assess

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def finished(ago: float, outcome: Outcome | None = None, errors: int = 0) -> Report:
    report = Report(started=NOW - timedelta(seconds=ago + 1))
    report.errors.extend(RecordError(f"person:{n}", "bad") for n in range(errors))
    if outcome is not None:
        report.fail(outcome, "the directory server is unavailable")
    report.finish(NOW)
    report.finished = NOW - timedelta(seconds=ago)
    return report


@pytest.mark.parametrize(
    ("last", "success_ago", "healthy", "reason"),
    [
        (None, None, False, "no run has finished yet"),
        (finished(10), 10, True, "succeeded 10 s ago"),
        (finished(10, errors=2), 10, True, "succeeded"),
        (finished(1000), 1000, False, "finished 1000 s ago, more than 900 s"),
        (finished(5, Outcome.UNAVAILABLE), 60, False, "directory-unavailable"),
        (finished(5, Outcome.SOURCE), None, False, "source-error"),
        (finished(5, Outcome.CONFIGURATION), 60, False, "configuration-error"),
    ],
)
def test_health_follows_the_last_run_and_its_age(last, success_ago, healthy, reason):
    success = NOW - timedelta(seconds=success_ago) if success_ago is not None else None
    health = assess(last, success, NOW, 900)
    assert health.healthy is healthy
    assert health.status == (200 if healthy else 503)
    assert reason in health.reason
    assert health.to_dict()["status"] == ("healthy" if healthy else "unhealthy")


def test_the_health_body_tells_the_last_run_and_record_errors():
    body = assess(finished(3, errors=2), NOW - timedelta(seconds=3), NOW, 900).to_dict()
    assert body["last_run"]["outcome"] == "success-with-record-errors"
    assert body["last_run"]["record_errors"] == 2
    assert body["last_success"] == (NOW - timedelta(seconds=3)).isoformat()
    assert body["age_seconds"] == 3
    assert body["failing_since"] is None


def test_the_health_body_tells_since_when_runs_fail():
    since = NOW - timedelta(seconds=120)
    body = assess(finished(5, Outcome.UNAVAILABLE), since, NOW, 900, since).to_dict()
    assert body["status"] == "unhealthy" and body["failing_since"] == since.isoformat()
