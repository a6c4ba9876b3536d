"""Run history in the state directory, and `portal-sync status`."""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import UTC, datetime, timedelta

from sync.cli import main
from sync.core.problems import RecordError
from sync.core.report import Outcome, Report
from sync.run.lock import FileLock
from sync.service.history import History


def report_at(minute: int, outcome: Outcome | None = None) -> Report:
    report = Report(started=datetime(2026, 1, 1, 12, minute, tzinfo=UTC))
    if outcome is not None:
        report.fail(outcome, "connecting: the directory server is unavailable")
    else:
        report.errors.append(RecordError("person:P-9", "duplicate login jdoe"))
    report.finish(report.started)
    report.finished = report.started + timedelta(seconds=2)
    return report


def test_only_the_last_reports_are_kept(tmp_path):
    history = History(tmp_path, keep=3)
    for minute in range(5):
        history.record(report_at(minute))
    kept = history.reports()
    assert [r["started"][11:16] for r in kept] == ["12:02", "12:03", "12:04"]
    assert "changes" not in kept[0] and "decisions" not in kept[0]
    assert "errors" in kept[0] and "counts" in kept[0], "a summary keeps the rest"


def test_status_prints_time_outcome_counts_and_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PORTAL_SYNC_STATE_DIR", str(tmp_path))
    history = History(tmp_path, keep=50)
    history.record(report_at(1))
    history.record(report_at(2, Outcome.UNAVAILABLE))

    assert main(["status"]) == 0
    text = capsys.readouterr().out
    assert "2026-01-01 12:01:00 UTC  success-with-record-errors" in text
    assert "person:P-9: duplicate login jdoe" in text
    assert "directory-unavailable" in text and "stopped: connecting" in text

    assert "no run in progress" in text

    busy = FileLock(tmp_path / "run.lock")
    assert busy.acquire(time.monotonic(), threading.Event())
    try:
        assert main(["status"]) == 0
    finally:
        busy.release()
    assert f"a run is in progress (pid {os.getpid()} since" in capsys.readouterr().out

    assert main(["status", "--json", "--limit", "1"]) == 0
    (last,) = json.loads(capsys.readouterr().out)
    assert last["outcome"] == "directory-unavailable"


def test_status_says_when_nothing_ran_yet(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PORTAL_SYNC_STATE_DIR", str(tmp_path))
    assert main(["status"]) == 0
    assert "no run recorded" in capsys.readouterr().out
