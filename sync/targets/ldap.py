"""The LDAP target: today's directory run (`sync.run.sync`) under its run lock and lease."""

from __future__ import annotations

import threading
from typing import Any

from sync.core.report import Report
from sync.ldap.directory import Directory
from sync.run.lock import RunLock, locked_run
from sync.run.sync import run_sync
from sync.settings import Settings


def run(settings: Settings, **options: Any) -> Report:
    """Run the directory sync (a dry run, or under a lock the caller holds)."""
    return run_sync(settings, **options)


def locked(
    settings: Settings, wait: float, cancel: threading.Event | None = None, **options: Any
) -> Report:
    """Run the directory sync holding the run lock (run.lock) and the directory lease."""
    return locked_run(RunLock(settings, cancel=cancel), settings, wait, **options)


def check_lines(settings: Settings) -> list[str]:
    """Return the `check` line of the directory: bound, and the base DN exists."""
    with Directory.open(settings.ldap) as directory:
        directory.require_base(settings.ldap.base_dn)
    return [f"directory: ok (bound as {settings.ldap.bind_dn or 'anonymous'}, base DN exists)"]
