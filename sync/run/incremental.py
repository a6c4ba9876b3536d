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
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from sync.core.digest import PENDING, RunRecord, State, after_run, full_due, stale_keys
from sync.core.dn import normalize_dn
from sync.core.mapping import Mapping as DirectoryMapping
from sync.core.plan import Plan
from sync.core.problems import Quarantine
from sync.errors import ConfigurationError
from sync.ldap.directory import Directory
from sync.run.state import forget_state, load_state, save_state
from sync.settings import PerformanceSettings

log = logging.getLogger("portal_sync")


def unreadable_ou(ou: str, account: str, why: str) -> ConfigurationError:
    """Return the error for a managed OU the service account cannot read."""
    return ConfigurationError(
        f"the managed OU {ou} cannot be read by {account or 'the service account'}: {why}. "
        f"Give {account or 'it'} read access (search and read) to {ou} and everything below "
        "it (config/slapd/acl.ldif); nothing in it was changed. If the OU was deleted by hand, "
        "portal-sync run --full makes it again"
    )


def _within(dn: str, ancestor: str) -> bool:
    """Return whether `dn` is `ancestor` or below it."""
    dn, ancestor = normalize_dn(dn), normalize_dn(ancestor)
    return dn == ancestor or dn.endswith("," + ancestor)


@dataclass
class Incremental:
    """The incremental side of one run."""

    state_dir: Path
    previous: State | None
    full: bool
    reason: str
    fingerprint: str
    source_digest: str
    clock: datetime

    @classmethod
    def start(
        cls,
        performance: PerformanceSettings,
        state_dir: Path,
        fingerprint: str,
        source_digest: str,
        *,
        full: bool = False,
        clock: datetime,
    ) -> Incremental:
        """Return the decision for this run: full or incremental, and why.

        `fingerprint` stands for what shapes the directory besides the source,
        `source_digest` for the source as it is now ("" when it cannot say);
        `clock` is the run's time (the schedule of full runs follows it).
        """
        previous = load_state(state_dir) if performance.incremental else None
        reason = ""
        if not performance.incremental:
            reason = "incremental runs are switched off"
        elif full:
            reason = "asked for (--full)"
        elif previous is None:
            reason = "no incremental state yet"
        elif previous.fingerprint != fingerprint:
            reason = "the directory, layout or mapping changed since the last run"
        elif full_due(previous.last_full, clock, performance.full_sync_at):
            reason = f"the daily reconciliation after {performance.full_sync_at} is due"
        if reason:
            log.info("full reconciliation: %s", reason)
            previous = None
        return cls(state_dir, previous, bool(reason), reason, fingerprint, source_digest, clock)

    def check_containers(
        self, directory: Directory, wanted: Iterable[str], bases: Mapping[str, str]
    ) -> None:
        """Turn this run into a full one when the managed OUs are missing (the tree was emptied).

        `bases` gives the OU of each kind of entry. When only some OUs are
        missing and the last run left entries in one of them, the service
        account cannot see it: ConfigurationError, nothing is planned.
        """
        wanted = list(wanted)
        missing = [dn for dn in wanted if not directory.exists(dn)]
        if self.previous is None or not missing:
            return
        if len(missing) < len(wanted):
            left = Counter(
                bases[key.partition(":")[0]]
                for key in self.previous.entries
                if key.partition(":")[0] in bases
            )
            for base, count in left.items():
                if any(_within(base, dn) for dn in missing):
                    raise unreadable_ou(
                        base,
                        directory.account,
                        f"a search answers that it does not exist, yet the last run left "
                        f"{count} entries there",
                    )
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

    def keys_to_read(self, digests: Mapping[str, str], quarantine: Quarantine) -> set[str] | None:
        """Return the keys this run must read and plan, or None to read everything.

        `digests` are those of the desired entries (`sync.core.digest.desired_digests`).
        """
        if self.previous is None:
            return None
        if quarantine.kinds:
            self.full_because("a bad record could not be identified: every entry is read")
            return None
        keys = stale_keys(self.previous.entries, digests, quarantine.keys)
        keys |= self.previous.due(self.clock)
        log.info("incremental run: %d of %d entries to read", len(keys), len(digests))
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

    def save(self, run: RunRecord, mapping: DirectoryMapping) -> str:
        """Record what this successful run left in the directory; return a warning or ""."""
        if run.quarantine.kinds:
            forget_state(self.state_dir)
            return ""
        entries, retained = after_run(self.previous, run, mapping)
        last_full = self.clock if self.previous is None else self.previous.last_full
        state = State(
            fingerprint=self.fingerprint,
            last_full=last_full,
            source_digest=self.source_digest,
            clean=not run.report.errors and PENDING not in entries.values(),
            managed=dict(run.report.managed),
            entries=entries,
            retained=retained,
        )
        return save_state(self.state_dir, state)
