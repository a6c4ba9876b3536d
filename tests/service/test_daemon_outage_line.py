"""An outage of the directory or the source is one warning saying what to do (issue 24)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from daemons import Daemon, environment, pause, resume, wait_for, write_source

from sync.ldap.localserver import LocalServer


def portal_sync_lines(text: str) -> list[str]:
    """Return the daemon's own log lines (no library's, no traceback line)."""
    return [line for line in text.splitlines() if " portal_sync" in line]


@pytest.fixture
def daemon(tmp_path: Path, seed: dict[str, Any]):
    with LocalServer() as own:
        source = tmp_path / "source.json"
        write_source(source, seed)
        env = environment(
            own,
            source,
            tmp_path / "state",
            schedule__interval=3600,
            schedule__retry_initial=0.2,
            schedule__retry_max=1,
        )
        started = Daemon(env, tmp_path).start()
        try:
            yield started, own
        finally:
            started.__exit__()


def test_a_directory_outage_is_one_warning_with_what_to_do(daemon, tmp_path, seed):
    running, own = daemon
    wait_for(running.healthy, "the start-up run")
    before = len(portal_sync_lines(running.log))
    pause(own)
    write_source(tmp_path / "source.json", {**seed, "orders": seed["orders"][:-1]})
    wait_for(lambda: running.runs("directory-unavailable") >= 3, "a few retries")
    during = portal_sync_lines(running.log)[before:]
    resume(own)
    wait_for(running.healthy, "healthy again")
    outage = [line for line in during if "outage:" in line]
    assert len(outage) == 1, during
    assert " WARNING " in outage[0] and "check" in outage[0], outage
    assert [line for line in during if " ERROR " in line] == [], during
    assert [line for line in during if "directory-unavailable in" in line] == [], during
