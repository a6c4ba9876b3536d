"""The targets users and groups are pushed to, by kind: one line per kind in `TARGETS`.

A target reads the source side of a run (`sync.run.prepare`: the verdicts,
the quarantine, the grants) and brings its own store in step; it never
rebuilds a rule. Each keeps its own state and lock in the state directory.
`settings.targets` names those a run and the daemon's triggers push to.

A target is a module with three functions: `run(settings, **options)` (a dry
run, or a run whose lock the caller holds), `locked(settings, wait, cancel,
**options)` (raises LockBusy) and `check_lines(settings)`. The table names
modules, imported on first use: `sync.settings` imports the SCIM settings
group from this package, so the package itself imports nothing heavy.
"""

from __future__ import annotations

import importlib
import threading
from typing import TYPE_CHECKING, Any, Protocol, cast

if TYPE_CHECKING:
    from sync.core.report import Report
    from sync.settings import Settings

TARGETS: dict[str, str] = {
    "ldap": "sync.targets.ldap",
    "scim": "sync.targets.scim.target",
}
"""Kind of target -> the module that runs and checks it."""


class Target(Protocol):
    """What the CLI and the daemon need of one kind of target."""

    def run(self, settings: Settings, **options: Any) -> Report: ...

    def locked(
        self, settings: Settings, wait: float, cancel: threading.Event | None, **options: Any
    ) -> Report: ...

    def check_lines(self, settings: Settings) -> list[str]: ...


def target(kind: str) -> Target:
    """Return the module of one kind of target."""
    return cast(Target, importlib.import_module(TARGETS[kind]))


def run_targets(
    settings: Settings,
    *,
    dry_run: bool = False,
    wait: float | None = None,
    cancel: threading.Event | None = None,
    **options: Any,
) -> list[Report]:
    """Run every configured target in order; return their reports (LockBusy stops them)."""
    reports = []
    for kind in settings.targets:
        if dry_run:
            reports.append(target(kind).run(settings, dry_run=True, **options))
        else:
            waited = settings.lock.wait if wait is None else wait
            reports.append(target(kind).locked(settings, waited, cancel, **options))
    return reports
