"""The value of the lease entry, and when a run may take it; no I/O.

The lease lives in the `description` of one entry in the directory, as
`holder=<host:pid:nonce> expires=<UTC ISO time>`. Expiry is wall-clock time
written by the holder, so the hosts sharing a directory need synchronised
clocks (NTP); the lease lasts long enough (default 60 s) that ordinary
drift does not matter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

_PREFIX = "portal-sync-lease"


@dataclass(frozen=True, slots=True)
class Lease:
    """Who holds the run lock across hosts, and until when."""

    holder: str
    expires: datetime

    def to_value(self) -> str:
        """Return the text stored in the lease entry."""
        return f"{_PREFIX} holder={self.holder} expires={self.expires.isoformat()}"

    def free_for(self, holder: str, now: datetime) -> bool:
        """Return whether `holder` may take this lease at `now`."""
        return self.holder == holder or self.expires <= now

    def describe(self, now: datetime) -> str:
        """Return a sentence for people about this lease."""
        left = (self.expires - now).total_seconds()
        return f"held by {self.holder}, expires in {left:.0f} s ({self.expires.isoformat()})"


def parse_lease(value: str) -> Lease | None:
    """Return the lease stored as `value`, or None when it is not one of ours."""
    fields = dict(part.split("=", 1) for part in value.split()[1:] if "=" in part)
    if not value.startswith(_PREFIX + " ") or "holder" not in fields or "expires" not in fields:
        return None
    try:
        expires = datetime.fromisoformat(fields["expires"])
    except ValueError:
        return None
    if expires.tzinfo is None:
        return None
    return Lease(fields["holder"], expires)


def granted(holder: str, now: datetime, seconds: float) -> Lease:
    """Return the lease `holder` writes to hold the lock for `seconds` from `now`."""
    return Lease(holder, now + timedelta(seconds=seconds))


def released(holder: str, now: datetime) -> Lease:
    """Return the lease `holder` writes to give the lock back: already expired."""
    return Lease(holder, now)


def blocking(values: tuple[str, ...], holder: str, now: datetime) -> Lease | None:
    """Return the lease among `values` that keeps `holder` out at `now`, if any.

    Values that are not leases of ours (an administrator's note) block nobody.
    """
    for value in values:
        lease = parse_lease(value)
        if lease is not None and not lease.free_for(holder, now):
            return lease
    return None
