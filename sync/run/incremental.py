"""Incremental runs: decide what a run must read, and record what it left behind.

A run is full (reads every managed entry) when there is no usable state,
when `--full` asks for it, when the nightly reconciliation is due, or when
incremental runs are switched off. Otherwise it reads only the entries
whose desired digest differs from the state, and when the source document
is byte for byte the one the last clean run applied, it reads nothing.

A state is trusted only while the directory holds its token (see
`sync.run.state`): a state file put back from an earlier run, one of
another host writing to the same directory, or one whose directory was
replaced or restored makes the run full. Only a full run sees changes made
in the directory by hand; that is what the nightly reconciliation is for.
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
from sync.errors import (
    AlreadyExists,
    ConfigurationError,
    EntryRejected,
    InsufficientAccess,
    NoSuchEntry,
)
from sync.ldap.directory import Directory
from sync.run.state import forget_state, load_state, new_token, save_state
from sync.settings import PerformanceSettings

log = logging.getLogger("portal_sync")

MISMATCH = (
    "the incremental state does not match the directory's (stale, copied or from another directory)"
)


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
    enabled: bool = True
    """Whether incremental runs are on (`performance.incremental`)."""
    token_dn: str = ""
    """The entry whose description holds the token of the state the directory matches."""
    token: str = ""
    """The directory's token as read at the start, then the one this run's state carries."""
    unvouched: bool = False
    """Whether the token could not be written: the run saves no state."""

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
        token_dn: str,
    ) -> Incremental:
        """Return the decision for this run: full or incremental, and why.

        `fingerprint` stands for what shapes the directory besides the source,
        `source_digest` for the source as it is now ("" when it cannot say);
        `clock` is the run's time (the schedule of full runs follows it);
        `token_dn` the entry holding the state token (`sync.run.state.token_dn`).
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
            reason = "the directory, layout, mapping or access rules changed since the last run"
        elif full_due(previous.last_full, clock, performance.full_sync_at):
            reason = f"the daily reconciliation after {performance.full_sync_at} is due"
        if reason:
            log.info("full reconciliation: %s", reason)
            previous = None
        return cls(
            state_dir,
            previous,
            bool(reason),
            reason,
            fingerprint,
            source_digest,
            clock,
            performance.incremental,
            token_dn,
        )

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

    def check_token(self, directory: Directory) -> None:
        """Read the directory's state token; make this run full unless it is the state's.

        A token the account may not read vouches for nothing: the run is full,
        and writing the token then says what to grant.
        """
        try:
            self.token = directory.read_token(self.token_dn)
        except InsufficientAccess:
            self.token = ""
        if self.previous is None or self.previous.vouched_by(self.token):
            return
        if self.token:
            self.full_because(MISMATCH)
        else:
            self.full_because(
                f"the directory holds no incremental state token ({self.token_dn}): it was "
                "deleted, the directory was replaced or restored, or the state predates tokens"
            )

    def before_writes(self, directory: Directory, plan: Plan) -> str:
        """Put a fresh token into the directory before the run's first write; return a warning.

        From then on no state saved before, this host's or another's, matches
        the directory, so a run stopped half-way leaves none that is trusted.
        A run that writes nothing keeps the directory's token, or makes one
        when there is none, so that its state can be trusted. When the token
        cannot be written the state is forgotten and the run carries on.
        """
        if not plan.changes and (self.token or not self.enabled):
            return ""
        token = new_token()
        try:
            directory.write_token(self.token_dn, token)
        except (InsufficientAccess, EntryRejected, NoSuchEntry, AlreadyExists) as exc:
            forget_state(self.state_dir)
            self.token, self.unvouched = "", True
            warning = (
                f"cannot keep the incremental state: {exc}; every run is a full one until"
                f" {directory.account or 'the sync account'} may add and "
                "write that entry (config/slapd/acl.ldif, config/389ds/aci.ldif)"
            )
            log.warning("%s", warning)
            return warning
        self.token = token
        return ""

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
        if run.quarantine.kinds or self.unvouched:
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
            token=self.token,
        )
        return save_state(self.state_dir, state)
