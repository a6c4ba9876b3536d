"""Incremental runs: decide what a run must read, and record what it left behind.

A run is full (reads every managed entry) when there is no usable state,
when `--full` asks for it, when the nightly reconciliation is due, or when
incremental runs are switched off. Otherwise it reads only the entries
whose desired digest differs from the state, and when the source document
is byte for byte the one the last clean run applied, it reads nothing.

Only a full run sees changes made in the directory by hand; that is what
the nightly reconciliation is for.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sync.clock import now
from sync.core.desired import Desired
from sync.core.dn import normalize_dn, parent_dn
from sync.core.entry import Entry
from sync.core.mapping import Mapping as Mapping_
from sync.core.mapping import load_mapping
from sync.core.plan import Op, Plan, Reason, disabled_since
from sync.core.problems import Quarantine
from sync.core.report import Report
from sync.ldap.directory import Directory
from sync.run.state import (
    PENDING,
    State,
    entry_digest,
    file_digest,
    forget_state,
    full_due,
    load_state,
    save_state,
    stale_keys,
    text_digest,
)
from sync.settings import Settings

log = logging.getLogger("portal_sync")


def fingerprint(settings: Settings, mapping: Mapping_) -> str:
    """Return a digest of everything besides the source that shapes the directory's content."""
    parts = [
        "portal-sync state 1",
        settings.ldap.url,
        settings.ldap.base_dn.lower(),
        settings.layout.model_dump_json(),
        mapping.identity_attribute,
        mapping.identity_prefix,
        repr(mapping.container_classes),
    ]
    for kind, kind_mapping in sorted(mapping.kinds.items()):
        templates = {name: [t.text for t in ts] for name, ts in kind_mapping.templates.items()}
        parts.append(
            repr((kind.value, kind_mapping.object_classes, kind_mapping.rdn, kind_mapping.members))
        )
        parts.append(repr(sorted(templates.items())))
    return text_digest("\n".join(parts))


def moving_dns(desired: Desired, keys: Iterable[str], current: Iterable[Entry]) -> set[str]:
    """Return the DNs user entries leave or get in this run (pure).

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


def after_run(
    previous: State | None,
    digests: dict[str, str],
    seen: Mapping[str, Entry],
    quarantine: Quarantine,
    report: Report,
    unsettled: Collection[str],
    retention: tuple[datetime, timedelta],
    mapping: Mapping_,
) -> tuple[dict[str, str], dict[str, str]]:
    """Return the digests the directory holds after a run, and the retained users (pure).

    `seen` holds the entries this run read that the source no longer wants.
    Entries of bad records and refused changes are stored as PENDING; so
    is any entry the source no longer wants that is neither deleted nor a
    disabled user waiting for the end of its retention.
    """
    clock, period = retention
    entries = {
        key: PENDING if quarantine.protects(key) or key in unsettled else digest
        for key, digest in digests.items()
    }
    deleted = {change.key for change in report.changes if change.op is Op.DELETE}
    disabled_now = {c.key for c in report.changes if c.reason is Reason.DISABLE}
    retained = {
        key: ends
        for key, ends in (previous.retained if previous else {}).items()
        if key not in seen and key not in digests
    }
    for key, entry in seen.items():
        if key in digests or key in deleted:
            continue
        since = disabled_since(entry, mapping)
        if since is None and key in disabled_now:
            since = clock
        if since is not None and key not in unsettled:
            retained[key] = (since + period).astimezone(UTC).isoformat()
        else:
            entries[key] = PENDING
    for key in quarantine.keys:
        entries.setdefault(key, PENDING)
    return entries, retained


@dataclass
class Incremental:
    """The incremental side of one run."""

    settings: Settings
    previous: State | None
    full: bool
    reason: str
    fingerprint: str
    source_digest: str
    clock: datetime
    digests: dict[str, str] | None = None

    @classmethod
    def start(
        cls, settings: Settings, *, full: bool = False, clock: datetime | None = None
    ) -> Incremental:
        """Return the decision for this run: full or incremental, and why.

        `clock` is the run's time (the schedule of full runs follows it).
        """
        at = clock or now()
        mapping = load_mapping(settings.mapping.path)
        printed = fingerprint(settings, mapping)
        try:
            source_digest = file_digest(settings.source.path)
        except OSError:
            source_digest = ""
        previous = None
        if settings.performance.incremental:
            previous = load_state(settings.state_dir)
        reason = ""
        if not settings.performance.incremental:
            reason = "incremental runs are switched off"
        elif full:
            reason = "asked for (--full)"
        elif previous is None:
            reason = "no incremental state yet"
        elif previous.fingerprint != printed:
            reason = "the directory, layout or mapping changed since the last run"
        elif full_due(previous.last_full, at, settings.performance.full_sync_at):
            reason = f"the daily reconciliation after {settings.performance.full_sync_at} is due"
        if reason:
            log.info("full reconciliation: %s", reason)
            previous = None
        return cls(settings, previous, bool(reason), reason, printed, source_digest, at)

    def check_containers(self, directory: Directory, wanted: Iterable[str]) -> None:
        """Turn this run into a full one when a managed OU is missing (the tree was emptied)."""
        if self.previous is not None and not all(directory.exists(dn) for dn in wanted):
            self.full_because("a managed OU is missing: the directory was emptied or replaced")

    def full_because(self, reason: str) -> None:
        """Make this run a full reconciliation."""
        log.info("full reconciliation: %s", reason)
        self.previous, self.full, self.reason = None, True, reason

    def source_unchanged(self) -> bool:
        """Return whether the last clean run applied exactly this source: nothing to do."""
        return (
            self.previous is not None
            and self.previous.clean
            and bool(self.source_digest)
            and self.previous.source_digest == self.source_digest
            and not self.previous.due(self.clock)
        )

    def managed(self) -> dict[str, int]:
        """Return the managed entry counts the last run reported."""
        return dict(self.previous.managed) if self.previous else {}

    def keys_to_read(self, desired: Desired, quarantine: Quarantine) -> set[str] | None:
        """Return the keys this run must read and plan, or None to read everything."""
        self.digests = {
            key: entry_digest(entry, desired.held(key) if entry.kind.is_group else ())
            for key, entry in desired.entries.items()
        }
        if self.previous is None:
            return None
        if quarantine.kinds:
            self.full_because("a bad record could not be identified: every entry is read")
            return None
        keys = stale_keys(self.previous.entries, self.digests, quarantine.keys)
        keys |= self.previous.due(self.clock)
        log.info("incremental run: %d of %d entries to read", len(keys), len(self.digests))
        return keys

    def with_managed(self, plan: Plan) -> Plan:
        """Return the plan counting every managed entry the state knows, not only those read.

        The deletion guard weighs destructive changes against the managed
        entries; an incremental run reads only a few of them.
        """
        if self.previous is None:
            return plan
        known = len(self.previous.entries) + len(self.previous.retained)
        return replace(plan, managed=max(plan.managed, known))

    def save(
        self,
        prepared_mapping: Mapping_,
        quarantine: Quarantine,
        seen: Mapping[str, Entry],
        report: Report,
        unsettled: Collection[str],
    ) -> None:
        """Record what this successful run left in the directory."""
        if quarantine.kinds or self.digests is None:
            forget_state(self.settings.state_dir)
            return
        period = timedelta(days=self.settings.safety.retention_days)
        entries, retained = after_run(
            self.previous,
            self.digests,
            seen,
            quarantine,
            report,
            unsettled,
            (self.clock, period),
            prepared_mapping,
        )
        last_full = self.clock if self.previous is None else self.previous.last_full
        state = State(
            fingerprint=self.fingerprint,
            last_full=last_full,
            source_digest=self.source_digest,
            clean=not report.errors and PENDING not in entries.values(),
            managed=dict(report.managed),
            entries=entries,
            retained=retained,
        )
        save_state(self.settings.state_dir, state)
