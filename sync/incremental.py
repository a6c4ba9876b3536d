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
from collections.abc import Collection
from dataclasses import dataclass

from sync.desired import Desired
from sync.mapping import Mapping, load_mapping
from sync.plan import Op, Plan
from sync.problems import Quarantine
from sync.report import Report
from sync.settings import Settings
from sync.state import (
    PENDING,
    State,
    entry_digest,
    file_digest,
    forget_state,
    full_due,
    load_state,
    now,
    save_state,
    stale_keys,
    text_digest,
)

log = logging.getLogger("portal_sync")


def fingerprint(settings: Settings, mapping: Mapping) -> str:
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


def narrowed(desired: Desired, keys: Collection[str]) -> Desired:
    """Return the desired state limited to some keys (every container stays)."""
    entries = {key: desired.entries[key] for key in keys if key in desired.entries}
    return Desired(entries, desired.containers, desired.errors)


def next_entries(
    previous: dict[str, str],
    digests: dict[str, str],
    quarantine: Quarantine,
    plan: Plan,
    report: Report,
    unsettled: Collection[str],
) -> dict[str, str]:
    """Return the digests the directory holds after a run (pure).

    `previous` is empty after a full run. Entries of bad records, refused
    changes and entries not yet deleted are stored as PENDING.
    """
    entries = {
        key: PENDING if quarantine.protects(key) or key in unsettled else digest
        for key, digest in digests.items()
    }
    deleted = {change.key for change in report.changes if change.op is Op.DELETE}
    for change in plan.changes:
        if change.op is Op.DELETE and change.key and change.key not in deleted:
            entries[change.key] = PENDING
    for key in previous:
        if key not in entries and key not in deleted and quarantine.blocks_deletion(key):
            entries[key] = PENDING
    for key in quarantine.keys:
        entries.setdefault(key, PENDING)
    return entries


@dataclass
class Incremental:
    """The incremental side of one run."""

    settings: Settings
    previous: State | None
    full: bool
    reason: str
    fingerprint: str
    source_digest: str
    digests: dict[str, str] | None = None

    @classmethod
    def start(cls, settings: Settings, *, full: bool = False) -> Incremental:
        """Return the decision for this run: full or incremental, and why."""
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
        elif full_due(previous.last_full, now(), settings.performance.full_sync_at):
            reason = f"the daily reconciliation after {settings.performance.full_sync_at} is due"
        if reason:
            log.info("full reconciliation: %s", reason)
            previous = None
        return cls(settings, previous, bool(reason), reason, printed, source_digest)

    def source_unchanged(self) -> bool:
        """Return whether the last clean run applied exactly this source: nothing to do."""
        return (
            self.previous is not None
            and self.previous.clean
            and bool(self.source_digest)
            and self.previous.source_digest == self.source_digest
        )

    def managed(self) -> dict[str, int]:
        """Return the managed entry counts the last run reported."""
        return dict(self.previous.managed) if self.previous else {}

    def keys_to_read(self, desired: Desired, quarantine: Quarantine) -> set[str] | None:
        """Return the keys this run must read and plan, or None to read everything."""
        self.digests = {key: entry_digest(entry) for key, entry in desired.entries.items()}
        if self.previous is None:
            return None
        keys = stale_keys(self.previous.entries, self.digests, quarantine.keys)
        log.info("incremental run: %d of %d entries to read", len(keys), len(self.digests))
        return keys

    def save(
        self, quarantine: Quarantine, plan: Plan, report: Report, unsettled: Collection[str]
    ) -> None:
        """Record what this successful run left in the directory."""
        if quarantine.kinds or self.digests is None:
            forget_state(self.settings.state_dir)
            return
        previous = self.previous.entries if self.previous else {}
        entries = next_entries(previous, self.digests, quarantine, plan, report, unsettled)
        last_full = now() if self.previous is None else self.previous.last_full
        state = State(
            fingerprint=self.fingerprint,
            last_full=last_full,
            source_digest=self.source_digest,
            clean=not report.errors and PENDING not in entries.values(),
            managed=dict(report.managed),
            entries=entries,
        )
        save_state(self.settings.state_dir, state)
