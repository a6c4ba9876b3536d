"""What an incremental run decides without I/O: digests, what to read, what to keep (pure).

After a successful run the state directory keeps a digest of every entry
the run wanted (`State`, stored by `sync.run.state`). The next run reads
only the entries whose digest changed (`stale_keys`), and the groups naming
a DN that a user entry leaves or gets (`moving_dns`). The state is a cache:
an entry it cannot vouch for is stored as PENDING, which never matches, so
the next run reads it again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sync.core.change import Op, Reason
from sync.core.desired import Desired
from sync.core.dn import normalize_dn, parent_dn
from sync.core.entry import Entry
from sync.core.grants import AccessRules
from sync.core.mapping import Mapping as DirectoryMapping
from sync.core.plan import disabled_since
from sync.core.problems import Quarantine
from sync.core.report import Report
from sync.core.tree import Tree

FORMAT = 1
PENDING = ""
"""The digest of an entry the directory may hold in any shape: read it next time."""


def entry_digest(entry: Entry, extra: Iterable[str] = ()) -> str:
    """Return a short digest of an entry's DN and attribute values (and `extra` values)."""
    parts = [entry.dn]
    for name in sorted(entry.attributes):
        parts.append(name)
        parts.extend(entry.attributes[name])
        parts.append("")
    parts.extend(extra)
    return hashlib.blake2b("\0".join(parts).encode("utf-8"), digest_size=10).hexdigest()


def desired_digests(desired: Desired) -> dict[str, str]:
    """Return the digest of every desired entry; a group's includes the members it holds
    for bad records, whose entries the run does not build."""
    return {
        key: entry_digest(entry, desired.held(key) if entry.kind.is_group else ())
        for key, entry in desired.entries.items()
    }


def text_digest(text: str) -> str:
    """Return the digest of a text."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def fingerprint(url: str, tree: Tree, mapping: DirectoryMapping, rules: AccessRules) -> str:
    """Return a digest of everything besides the source that shapes the directory's content.

    The layout, the whole mapping (its file and the values the settings set)
    and the access rules: a run whose source is unchanged but one of these
    changed must plan again, or a rule withdrawn in the settings would leave
    the access it granted in place.
    """
    parts = [
        "portal-sync state 2",
        url,
        tree.base_dn.lower(),
        tree.layout.model_dump_json(),
        mapping.shape,
        rules.model_dump_json(),
    ]
    return text_digest("\n".join(parts))


@dataclass
class State:
    """The digests of the last successful run."""

    fingerprint: str
    last_full: datetime
    source_digest: str = ""
    clean: bool = False
    """Whether the last run left the directory exactly as the source wanted (no record error)."""
    managed: dict[str, int] = field(default_factory=dict)
    entries: dict[str, str] = field(default_factory=dict)
    retained: dict[str, str] = field(default_factory=dict)
    """Disabled users kept for their retention period, with the time it ends (ISO 8601)."""
    token: str = ""
    """The token the directory held when the state was saved; "" vouches for nothing."""

    def vouched_by(self, token: str) -> bool:
        """Return whether the directory's `token` ("" when it holds none) is this state's."""
        return bool(self.token) and self.token == token

    def due(self, clock: datetime) -> set[str]:
        """Return the retained users whose retention has ended by `clock`."""
        return {key for key, ends in self.retained.items() if datetime.fromisoformat(ends) <= clock}

    def to_json(self) -> str:
        """Return the state as JSON text."""
        return json.dumps(
            {
                "format": FORMAT,
                "fingerprint": self.fingerprint,
                "last_full": self.last_full.isoformat(),
                "source_digest": self.source_digest,
                "clean": self.clean,
                "managed": self.managed,
                "entries": self.entries,
                "retained": self.retained,
                "token": self.token,
            },
            separators=(",", ":"),
        )


def parse_state(text: str) -> State:
    """Return the state stored as `text`; raise ValueError, KeyError or TypeError if it is none."""
    data: Any = json.loads(text)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError("unknown format")
    entries = data["entries"]
    managed = data["managed"]
    if not isinstance(entries, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in entries.items()
    ):
        raise ValueError("entries must map keys to digests")
    if not isinstance(managed, dict):
        raise ValueError("managed must be an object")
    retained = data.get("retained", {})
    if not isinstance(retained, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in retained.items()
    ):
        raise ValueError("retained must map keys to times")
    for ends in retained.values():
        if datetime.fromisoformat(ends).tzinfo is None:
            raise ValueError("a retention end has no time zone")
    token = data.get("token", "")
    if not isinstance(token, str):
        raise ValueError("token must be text")
    last_full = datetime.fromisoformat(data["last_full"])
    if last_full.tzinfo is None:
        raise ValueError("last_full has no time zone")
    return State(
        fingerprint=str(data["fingerprint"]),
        last_full=last_full,
        source_digest=str(data["source_digest"]),
        clean=data["clean"] is True,
        managed={str(k): int(v) for k, v in managed.items()},
        entries=entries,
        retained=retained,
        token=token,
    )


def stale_keys(
    previous: Mapping[str, str], digests: Mapping[str, str], protected: Iterable[str]
) -> set[str]:
    """Return the keys a run must read: changed or new entries, entries gone from the source,
    and quarantined entries the directory may still hold (their DNs stay protected)."""
    keys = {key for key, digest in digests.items() if previous.get(key) != digest}
    keys.update(key for key in previous if key not in digests)
    keys.update(key for key in protected if key in previous)
    return keys


def full_due(last_full: datetime, now: datetime, full_at: time) -> bool:
    """Return whether the daily full reconciliation at local `full_at` is due since `last_full`."""
    local_now = now.astimezone()
    boundary = local_now.replace(
        hour=full_at.hour, minute=full_at.minute, second=full_at.second, microsecond=0
    )
    if boundary > local_now:
        boundary -= timedelta(days=1)
    return last_full < boundary


def moving_dns(desired: Desired, keys: Iterable[str], current: Iterable[Entry]) -> set[str]:
    """Return the DNs user entries leave or get in this run.

    A group naming one of them must be read and planned even when its own
    digest did not change: a value naming a DN its entry left, or one that
    another user is about to get, would otherwise outlive its reason.
    """
    disabled = normalize_dn(desired.disabled_base) if desired.disabled_base else ""
    dns: set[str] = set()
    read: set[str] = set()
    for entry in current:
        if not entry.kind.is_user:
            continue
        read.add(entry.key)
        want = desired.entries.get(entry.key)
        stays = want is not None and normalize_dn(want.dn) == normalize_dn(entry.dn)
        if not stays and normalize_dn(parent_dn(entry.dn)) != disabled:
            dns.add(entry.dn)
        if want is not None and not stays:
            dns.add(want.dn)
    for key in keys:
        want = desired.entries.get(key)
        if key not in read and want is not None and want.kind.is_user:
            dns.add(want.dn)
    return dns


@dataclass(frozen=True)
class RunRecord:
    """What one successful run did, as the state for the next run needs it."""

    clock: datetime
    """The run's time."""
    retention: timedelta
    """How long a disabled user is kept before it is deleted."""
    digests: Mapping[str, str]
    """The digest of every entry the run wanted."""
    gone: Mapping[str, Entry]
    """The entries the run read that the source no longer wants."""
    report: Report
    """The run's report: the changes the directory confirmed, the record errors, the counts."""
    quarantine: Quarantine
    """The entries of bad records, which the run left as they are."""
    unsettled: Collection[str]
    """Keys whose entries may not be as desired: refused changes, groups that depend on the
    directory (bad records, unknown memberships, collisions)."""


def after_run(
    previous: State | None, run: RunRecord, mapping: DirectoryMapping
) -> tuple[dict[str, str], dict[str, str]]:
    """Return the digests the directory holds after a run, and the retained users.

    Entries of bad records and refused changes are stored as PENDING; so
    is any entry the source no longer wants that is neither deleted nor a
    disabled user waiting for the end of its retention.
    """
    quarantine, unsettled = run.quarantine, run.unsettled
    entries = {
        key: PENDING if quarantine.protects(key) or key in unsettled else digest
        for key, digest in run.digests.items()
    }
    changes = run.report.changes
    deleted = {change.key for change in changes if change.op is Op.DELETE}
    disabled_now = {change.key for change in changes if change.reason is Reason.DISABLE}
    retained = {
        key: ends
        for key, ends in (previous.retained if previous else {}).items()
        if key not in run.gone and key not in run.digests
    }
    for key, entry in run.gone.items():
        if key in run.digests or key in deleted:
            continue
        since = disabled_since(entry, mapping)
        if since is None and key in disabled_now:
            since = run.clock
        if since is not None and key not in unsettled:
            retained[key] = (since + run.retention).astimezone(UTC).isoformat()
        else:
            entries[key] = PENDING
    for key in quarantine.keys:
        entries.setdefault(key, PENDING)
    return entries, retained
