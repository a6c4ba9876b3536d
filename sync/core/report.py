"""The report of one run: what changed, what was skipped and why, and how it ended."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any

from sync.core.change import Change, Withdrawal
from sync.core.decisions import Decision, counted
from sync.core.problems import RecordError
from sync.errors import (
    ConfigurationError,
    DirectoryError,
    DirectoryUnavailable,
    Interrupted,
    SourceError,
    SyncError,
    TargetUnavailable,
)


class Outcome(StrEnum):
    """How a run ended; a run stopped by an error ends as `outcome_of` it."""

    SUCCESS = "success"
    RECORD_ERRORS = "success-with-record-errors"
    CONFIGURATION = "configuration-error"
    SOURCE = "source-error"
    UNAVAILABLE = "directory-unavailable"
    DIRECTORY = "directory-error"
    DELETION_GUARD = "held-by-deletion-guard"
    INTERRUPTED = "interrupted"
    TARGET_UNAVAILABLE = "target-unavailable"

    @property
    def exit_code(self) -> ExitCode:
        """Return the process exit code for this outcome."""
        return _EXIT[self]


class ExitCode(IntEnum):
    """Exit codes of `portal-sync run` and `portal-sync check` (documented in the README)."""

    SUCCESS = 0
    RECORD_ERRORS = 1
    CONFIGURATION = 2
    UNAVAILABLE = 3
    SOURCE = 4
    DELETION_GUARD = 5
    LOCKED = 6
    TARGET_UNAVAILABLE = 7
    """A SCIM provider is down, refused the credentials or stayed busy (docs/scim.md)."""
    INTERRUPTED = 143
    """Stopped by SIGTERM (128 + 15, as a shell reports it), with a report and the lease freed."""


_EXIT = {
    Outcome.SUCCESS: ExitCode.SUCCESS,
    Outcome.RECORD_ERRORS: ExitCode.RECORD_ERRORS,
    Outcome.CONFIGURATION: ExitCode.CONFIGURATION,
    Outcome.SOURCE: ExitCode.SOURCE,
    Outcome.UNAVAILABLE: ExitCode.UNAVAILABLE,
    Outcome.DIRECTORY: ExitCode.UNAVAILABLE,
    Outcome.DELETION_GUARD: ExitCode.DELETION_GUARD,
    Outcome.INTERRUPTED: ExitCode.INTERRUPTED,
    Outcome.TARGET_UNAVAILABLE: ExitCode.TARGET_UNAVAILABLE,
}

_STOPPED_BY: tuple[tuple[type[SyncError], Outcome], ...] = (
    (Interrupted, Outcome.INTERRUPTED),
    (SourceError, Outcome.SOURCE),
    (ConfigurationError, Outcome.CONFIGURATION),
    (DirectoryUnavailable, Outcome.UNAVAILABLE),
    (DirectoryError, Outcome.DIRECTORY),
    (TargetUnavailable, Outcome.TARGET_UNAVAILABLE),
)
"""Each error that stops a run, and how the run ends; the first that matches counts
(a refused bind is a directory error and a configuration error: a configuration error)."""

STOPPING: tuple[type[SyncError], ...] = tuple(error for error, _ in _STOPPED_BY)
"""The errors that stop a run with an outcome of their own."""


def outcome_of(error: SyncError) -> Outcome:
    """Return how a run stopped by `error` ends."""
    return next(outcome for kind, outcome in _STOPPED_BY if isinstance(error, kind))


@dataclass
class Report:
    """Everything a run did, for people (text) and programs (JSON).

    The report reads no clock: the run says when it started and when it finished.
    """

    started: datetime
    dry_run: bool = False
    finished: datetime | None = None
    outcome: Outcome = Outcome.SUCCESS
    failure: str | None = None
    changes: list[Change] = field(default_factory=list)
    errors: list[RecordError] = field(default_factory=list)
    managed: dict[str, int] = field(default_factory=dict)
    pending: list[Change] = field(default_factory=list)
    passwords: dict[str, int] = field(default_factory=dict)
    """Accounts per password step ("source hash written"...); counts only, never values."""
    decisions: list[Decision] = field(default_factory=list)
    """Valid records the rules left without an entry (no remote access...): not errors."""
    directory_started: datetime | None = None
    """When the run, its source read and checked, began on the directory (lease held)."""
    withdrawn: list[Withdrawal] = field(default_factory=list)
    """Memberships taken from bad records or through broken references, and why."""
    warnings: list[str] = field(default_factory=list)
    """What went wrong beside the directory and cost no data (a state file not written)."""
    target: str = "ldap"
    """The target the run pushed to ("ldap", "scim"; `sync.targets`)."""
    requests: list[dict[str, Any]] = field(default_factory=list)
    """A SCIM run's write requests (sent, or those it would send in a dry run), in order."""

    def fail(self, outcome: Outcome, message: str) -> None:
        """Record that the run stopped, and why."""
        self.outcome = outcome
        self.failure = message

    def finish(self, at: datetime) -> Report:
        """Close the report: the run finished `at`; set the outcome."""
        self.finished = at
        if self.failure is None:
            self.outcome = Outcome.RECORD_ERRORS if self.errors else Outcome.SUCCESS
        return self

    @property
    def exit_code(self) -> ExitCode:
        """Return the process exit code for this outcome."""
        return self.outcome.exit_code

    @property
    def ok(self) -> bool:
        """Return whether the run reached the end (record errors allowed)."""
        return self.failure is None

    def counts(self) -> dict[str, int]:
        """Return the number of changes per operation."""
        counts = Counter(change.op.value for change in self.changes)
        counts.update(str(request["op"]) for request in self.requests)
        return dict(counts)

    def duration(self) -> float:
        """Return the run's length in seconds (none before it finished)."""
        end = self.finished or self.started
        return (end - self.started).total_seconds()

    def to_dict(self, *, summary: bool = False) -> dict[str, Any]:
        """Return the report as plain data; a `summary` leaves out each change and decision.

        The run history keeps summaries: an initial sync at size M has 113,000
        changes, and turning each into a dict only to drop it cost 3.5 s.
        """
        data = {
            "target": self.target,
            "outcome": self.outcome.value,
            "exit_code": int(self.exit_code),
            "dry_run": self.dry_run,
            "started": self.started.isoformat(),
            "finished": self.finished.isoformat() if self.finished else None,
            "duration_seconds": round(self.duration(), 3),
            "directory_started": (
                self.directory_started.isoformat() if self.directory_started else None
            ),
            "failure": self.failure,
            "counts": self.counts(),
            "managed": self.managed,
            "passwords": self.passwords,
            "changes": [] if summary else [change.to_dict() for change in self.changes],
            "pending_destructive": [change.to_dict() for change in self.pending],
            "errors": [_error(e) for e in self.errors],
            "left_out": counted(self.decisions),
            "decisions": [] if summary else [decision.to_dict() for decision in self.decisions],
            "withdrawn": [withdrawal.to_dict() for withdrawal in self.withdrawn],
            "warnings": list(self.warnings),
            **({"requests": list(self.requests)} if self.target != "ldap" else {}),
        }
        if summary:
            del data["changes"], data["decisions"]
        return data

    def to_json(self) -> str:
        """Return the report as JSON text."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def to_text(self, *, verbose: bool = True, explain: bool = False) -> str:
        """Return the report as text for a person; `explain` lists every record left out."""
        verb = "would apply" if self.dry_run else "applied"
        counts = self.counts()
        summary = ", ".join(f"{count} {op}" for op, count in sorted(counts.items())) or "no change"
        name = "portal-sync" if self.target == "ldap" else f"portal-sync ({self.target})"
        lines = [f"{name}: {self.outcome.value} in {self.duration():.2f}s; {verb}: {summary}"]
        if self.failure:
            lines.append(f"stopped: {self.failure}")
        lines.extend(f"warning: {warning}" for warning in self.warnings)
        if self.passwords:
            steps = ", ".join(f"{count} {step}" for step, count in sorted(self.passwords.items()))
            lines.append(f"passwords: {steps}")
        if self.pending:
            lines.append(f"{len(self.pending)} destructive change(s) held back, nothing applied:")
            lines.extend(f"  {_describe(change)}" for change in self.pending[:50])
            if len(self.pending) > 50:
                lines.append(f"  ... and {len(self.pending) - 50} more (see --json)")
        if verbose:
            held = {id(change) for change in self.pending}
            if held:
                lines.append("the plan besides the held changes:")
            lines.extend(f"  {_describe(c)}" for c in self.changes if id(c) not in held)
            lines.extend(f"  {_request(r)}" for r in self.requests)
        if self.errors:
            lines.append(f"{len(self.errors)} record error(s), skipped and left as they are:")
            lines.extend(f"  {error}" for error in self.errors)
        if self.decisions:
            left_out = "; ".join(
                f"{why}: {count}" for why, count in sorted(counted(self.decisions).items())
            )
            more = ":" if explain else " (portal-sync run --explain lists them)"
            lines.append(f"records left out by the rules, not errors: {left_out}{more}")
            if explain:
                lines.extend(f"  {decision}" for decision in self.decisions)
        if self.withdrawn:
            lines.append(f"{len(self.withdrawn)} membership(s) withdrawn:")
            lines.extend(f"  {withdrawal}" for withdrawal in self.withdrawn)
        return "\n".join(lines)


def _describe(change: Change) -> str:
    text = f"{change.op.value:<13} {change.dn}"
    if change.new_dn:
        text += f" -> {change.new_dn}"
    if change.reason:
        text += f" [{change.reason.value}]"
    details = []
    for attribute, values in change.add_values.items():
        details.append(f"+{attribute}: {len(values)}")
    for attribute, values in change.delete_values.items():
        shown = "; ".join(values[:5])
        more = f" +{len(values) - 5} more" if len(values) > 5 else ""
        details.append(f"-{attribute}: {shown}{more}")
    if change.op.value == "modify":
        details.extend(
            f"{attribute}={', '.join(values) or '(none)'}"
            for attribute, values in change.replace.items()
        )
    return text + (f" ({'; '.join(details)})" if details else "")


def _request(request: dict[str, Any]) -> str:
    return f"{request['op']:<13} {request['method']} {request['path']}  {request['record']}"


def _error(error: RecordError) -> dict[str, str]:
    """Return a record error as plain data: its words, and the keys pages link by."""
    found = {"record": error.record, "problem": error.problem}
    if error.key is not None:
        found["key"] = error.key
    if error.owner is not None:
        found["customer"] = error.owner
    return found
