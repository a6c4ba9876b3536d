"""The service's one clock.

The core reads no clock: whoever calls it passes the time in (`make_plan`,
`Report`), so that a run, and every test of it, says which time it means.
"""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    """Return the current time, time-zone aware (UTC)."""
    return datetime.now(UTC)
