"""The deletion guard: a run that would delete or disable too much applies nothing (pure).

Mass deletion after a filter change or a truncated export is the classic
incident of directory sync tools. A plan whose destructive changes pass the
limits is held back whole, not just its deletions: a document that looks
wrong enough to delete hundreds of entries is not trusted for its other
changes either.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field

from sync.core.plan import Plan
from sync.origins import SettingGroup


class SafetySettings(SettingGroup):
    """Limits on what one run may destroy, and how long disabled users are kept."""

    group = "safety"
    model_config = ConfigDict(extra="forbid")

    max_deletions: int = Field(default=500, ge=0)
    """Most entries one run may delete or disable without approval; default 500."""
    max_deletion_ratio: float = Field(default=0.10, ge=0, le=1)
    """Largest share of the managed entries one run may delete or disable; default 0.10."""
    ratio_floor: int = Field(default=10, ge=0)
    """The ratio applies only above this many deletions, so small directories stay usable; 10."""
    retention_days: float = Field(default=30, ge=0)
    """Days a disabled user is kept (and can come back with its password) before deletion; 30."""


def guard_reason(plan: Plan, safety: SafetySettings, allowed: int | None = None) -> str | None:
    """Return why the plan must be held back, or None when it may be applied.

    `allowed` is an administrator's approval of up to that many destructive
    changes (`portal-sync run --allow-deletions N`).
    """
    return held_reason(len(plan.destructive()), plan.managed, safety, allowed)


def held_reason(
    pending: int, managed: int, safety: SafetySettings, allowed: int | None = None
) -> str | None:
    """Return why `pending` destructive changes out of `managed` entries must be held back.

    The guard of every target: the directory's plan and a SCIM plan alike.
    """
    if pending == 0 or (allowed is not None and pending <= allowed):
        return None
    if pending > safety.max_deletions:
        return (
            f"the run would delete or disable {pending} entries, more than the limit of "
            f"{safety.max_deletions} ({safety.name_of('max_deletions')})"
        )
    ratio = pending / managed if managed else 1.0
    if pending > safety.ratio_floor and ratio > safety.max_deletion_ratio:
        return (
            f"the run would delete or disable {pending} of {managed} managed entries "
            f"({ratio:.0%}), more than {safety.max_deletion_ratio:.0%} "
            f"({safety.name_of('max_deletion_ratio')})"
        )
    return None
