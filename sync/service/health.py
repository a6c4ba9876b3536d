"""Whether the daemon is healthy, decided from its last runs alone; no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sync.core.report import Report


@dataclass(frozen=True, slots=True)
class Health:
    """The answer of /healthz: healthy or not, why, and the facts behind it."""

    healthy: bool
    reason: str
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> int:
        """Return the HTTP status code: 200 when healthy, else 503."""
        return 200 if self.healthy else 503

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON body of /healthz."""
        return {
            "status": "healthy" if self.healthy else "unhealthy",
            "reason": self.reason,
            **self.facts,
        }


def assess(
    last: Report | None,
    last_success: datetime | None,
    now: datetime,
    max_age: float,
    failing_since: datetime | None = None,
) -> Health:
    """Return the health after run `last`, the last success at `last_success`, seen at `now`."""
    facts: dict[str, Any] = {
        "last_run": _summary(last) if last else None,
        "last_success": last_success.isoformat() if last_success else None,
        "failing_since": failing_since.isoformat() if failing_since else None,
        "max_age_seconds": max_age,
    }
    if last is None:
        return Health(False, "no run has finished yet", facts)
    if not last.ok:
        return Health(False, f"the last run ended with {last.outcome.value}: {last.failure}", facts)
    if last_success is None:
        return Health(False, "no run has succeeded yet", facts)
    age = (now - last_success).total_seconds()
    facts["age_seconds"] = round(age, 3)
    if age > max_age:
        return Health(
            False,
            f"the last successful run finished {age:.0f} s ago, more than {max_age:g} s",
            facts,
        )
    return Health(True, f"the last run succeeded {age:.0f} s ago", facts)


def _summary(report: Report) -> dict[str, Any]:
    return {
        "outcome": report.outcome.value,
        "finished": report.finished.isoformat() if report.finished else None,
        "duration_seconds": round(report.duration(), 3),
        "failure": report.failure,
        "counts": report.counts(),
        "record_errors": len(report.errors),
    }
