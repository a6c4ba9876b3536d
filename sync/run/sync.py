"""One sync run: read, validate, build, read the directory, plan, apply, report.

The CLI one-shot and the daemon both call `run_sync` and get a Report back;
it never raises for an expected failure, the report says what happened. A
run reads the clock, the mapping and the source once, and checks the base
DN once.
"""

from __future__ import annotations

import gc
import logging
from collections import Counter
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta

from sync import clock, stop
from sync.core import dn as dnlib
from sync.core.change import Op
from sync.core.desired import Desired
from sync.core.digest import RunRecord, desired_digests, fingerprint
from sync.core.entry import EntryKey, Kind
from sync.core.guard import guard_reason
from sync.core.ownership import Owners, owners_after
from sync.core.plan import Plan, make_plan
from sync.core.problems import RecordError
from sync.core.report import STOPPING, Outcome, Report, outcome_of
from sync.ldap.directory import Directory
from sync.ldap.flavour import load_mapping
from sync.progress import Progress
from sync.run.apply import apply_plan
from sync.run.current import read_directory
from sync.run.incremental import Incremental
from sync.run.owners import added_ids, foreign_logins, load_owners, save_owners
from sync.run.passwords import (
    counted,
    expect_initial,
    require_supported,
    settle_passwords,
    still_owed,
)
from sync.run.prepare import Prepared, gc_paused, prepare
from sync.run.state import token_dn
from sync.settings import LdapSettings, Settings
from sync.sources.reader import source_of

log = logging.getLogger("portal_sync")


def run_sync(
    settings: Settings,
    *,
    dry_run: bool = False,
    allow_deletions: int | None = None,
    now: datetime | None = None,
    full: bool = False,
    hold: Callable[[], AbstractContextManager[object]] = nullcontext,
    progress: Progress | None = None,
    explain: bool = False,
) -> Report:
    """Run one sync and return its report.

    `allow_deletions` approves up to that many deletions and disables past
    the deletion guard; `now` is the clock for the retention of disabled users;
    `full` reads every managed entry, not only those that changed since the last run.
    The source is read and checked before anything touches the directory:
    `hold` (the run lease) is entered only then, around the directory work.
    `explain` reads the source even when it is unchanged, for the decisions.
    """
    report = Report(started=clock.now(), dry_run=dry_run)
    try:
        run = _Run(settings, report, now or report.started, progress or Progress())
        run.sync(hold, full=full, explain=explain, allow_deletions=allow_deletions)
    except STOPPING as exc:
        report.fail(outcome_of(exc), str(exc))
    finally:
        gc.unfreeze()  # what the source side built is the collector's again (`read_source`)
    return finished(report, log)


def finished(report: Report, logger: logging.Logger) -> Report:
    """Finish a run's report now and log its summary; return it.

    A run that stopped is reported by its caller (the command prints it, the
    daemon logs one warning per outage): its summary here is for debugging.
    """
    report.finish(clock.now())
    logger.log(
        logging.INFO if report.failure is None else logging.DEBUG,
        "%s",
        report.to_text(verbose=False),
    )
    return report


class _Run:
    """One run of `run_sync`: its settings, time and report, and what it read."""

    def __init__(self, settings: Settings, report: Report, at: datetime, progress: Progress):
        self.settings = settings
        self.report = report
        self.at = at
        """The run's time: users are disabled as of it, the nightly full run follows it."""
        self.progress = progress
        self.mapping = load_mapping(settings.mapping.path, settings.mapping.values)
        require_supported(settings.passwords, settings.ldap, self.mapping)
        self.source = source_of(settings.source, settings.state_dir)
        self._prepared: Prepared | None = None

    def sync(
        self,
        hold: Callable[[], AbstractContextManager[object]],
        *,
        full: bool,
        explain: bool,
        allow_deletions: int | None,
    ) -> None:
        """Read the source unless the last clean run applied it, then converge the directory."""
        settings = self.settings
        cache = self.incremental(settings.ldap.urls[0], full)
        if explain or not cache.source_unchanged():
            self.read_source()
        self.progress.stage("connecting to the directory")
        with hold(), _open(settings.ldap) as directory:
            self.report.directory_started = clock.now()
            if directory.server_url != settings.ldap.urls[0]:
                log.warning(
                    "%s did not answer: this run works on %s (server %d of %d of %s)",
                    settings.ldap.urls[0],
                    directory.server_url,
                    settings.ldap.urls.index(directory.server_url) + 1,
                    len(settings.ldap.urls),
                    settings.ldap.name_of("url"),
                )
                cache = self.incremental(directory.server_url, full)
            directory.require_base(settings.ldap.base_dn)
            bases = {kind.value: settings.tree.base(kind) for kind in Kind}
            cache.check_containers(directory, settings.tree.containers(), bases)
            cache.check_token(directory)
            if cache.source_unchanged():
                log.info("the source is the one the last clean run applied: nothing to do")
                self.report.managed = cache.managed()
            else:
                self.converge(directory, cache, allow_deletions)

    def incremental(self, server: str, full: bool) -> Incremental:
        """Return the incremental decision for a run on `server` (one of `ldap.url`).

        The state is kept per server: a run on another provider than the
        last (a failover) reads everything, since that provider may lack
        what the last run wrote on the other.
        """
        return Incremental.start(
            self.settings.performance,
            self.settings.state_dir,
            fingerprint(server, self.settings.tree, self.mapping, self.settings.rules),
            self.source.digest(),
            full=full,
            clock=self.at,
            token_dn=token_dn(self.settings.ldap.base_dn),
        )

    def read_source(self) -> Prepared:
        """Return the source side of the run, read and checked the first time it is asked for.

        That is before the directory is touched, unless the source is the one
        the last clean run applied and the directory turns out to need it
        after all (a managed OU is missing).
        """
        if self._prepared is None:
            self._prepared = prepare(
                self.settings, self.progress, source=self.source, mapping=self.mapping
            )
            # Millions of objects now live until the run ends, none of them in a cycle: each
            # full collection during the rest of the run would walk them all again (0.8 s at
            # size M for the state file alone). Frozen, the collector leaves them out until
            # `run_sync` unfreezes them.
            gc.freeze()
            self.report.decisions = self._prepared.decisions
            stop.requested.check()
        return self._prepared

    def converge(
        self, directory: Directory, cache: Incremental, allow_deletions: int | None
    ) -> None:
        """Plan the difference between the source and the directory, and apply it."""
        prepared = self.read_source()
        report = self.report
        report.errors.extend(prepared.errors)
        kinds = (EntryKey.kind(key).value for key in prepared.desired.entries)
        report.managed = dict(Counter(kinds))
        digests = desired_digests(prepared.desired)
        keys = cache.keys_to_read(digests, prepared.quarantine)
        retention = timedelta(days=self.settings.safety.retention_days)
        owners = load_owners(self.settings.state_dir, prepared.mapping)
        with gc_paused():  # the read and the plan allocate an object per value, like the build
            current = read_directory(directory, self.settings, prepared, keys, self.progress)
            keys_held = [entry.key for entry in current.entries]
            floor = self.settings.safety.ratio_floor
            report.errors.extend(prepared.protect_vanished(keys_held, floor))
            logins = None if current.scope is None else _logins(prepared.desired, current.scope)
            foreign = foreign_logins(directory, self.settings, prepared.mapping, logins)
            plan = make_plan(
                prepared.desired,
                current.entries,
                current.containers,
                prepared.mapping,
                prepared.quarantine,
                now=self.at,
                retention=retention,
                scope=current.scope,
                owners=owners,
                foreign=foreign,
            )
        plan = cache.with_managed(plan)
        report.errors.extend(plan.errors)
        report.withdrawn.extend(plan.withdrawn)
        held = guard_reason(plan, self.settings.safety, allow_deletions)
        if held:
            report.pending.extend(plan.destructive())
            report.fail(
                Outcome.DELETION_GUARD,
                f"{held}; nothing was applied. Review the pending changes, then approve "
                f"with: portal-sync run --allow-deletions {len(report.pending)}",
            )
        if report.dry_run:
            report.changes.extend(plan.changes)
        if held or report.dry_run:
            return
        window = self.settings.performance.write_window
        if warning := cache.before_writes(directory, plan):
            report.warnings.append(warning)
        owed = expect_initial(self.settings.passwords, self.settings.state_dir, plan.changes)
        try:
            unsettled = apply_plan(directory, plan, prepared, report, window, self.progress)
            self.settle_passwords(directory, prepared, plan, unsettled)
        except STOPPING:
            owing = {c.key for c in report.changes if c.op is Op.ADD and c.key in owed}
            owing &= still_owed(self.settings.state_dir)
            report.errors.extend(
                RecordError(
                    prepared.desired.records.get(key, key),
                    "added without its initial password (the run stopped before it was "
                    "delivered): the next run sets and delivers one",
                )
                for key in sorted(owing)
            )
            raise
        added = added_ids(directory, self.settings, prepared.mapping, report.changes)
        deleted = [c.key for c in report.changes if c.op is Op.DELETE and c.key is not None]
        recorded = owners_after(
            owners.recorded, plan.owners, added, deleted, full=current.scope is None
        )
        if warning := save_owners(self.settings.state_dir, Owners(owners.attribute, recorded)):
            report.warnings.append(warning)
        unsettled |= plan.unsettled
        done = RunRecord(
            self.at,
            retention,
            digests,
            current.gone(prepared.desired),
            report,
            prepared.quarantine,
            unsettled,
        )
        if warning := cache.save(done, prepared.mapping):
            report.warnings.append(warning)

    def settle_passwords(
        self, directory: Directory, prepared: Prepared, plan: Plan, unsettled: Collection[str]
    ) -> None:
        """Set the passwords the settings ask for, after the entries were applied.

        An account whose entry did not get its DN (a collision, a refused
        change) or whose record is in error gets no password: the DN it wanted
        may be another entry's.
        """
        accounts = {
            key: account
            for key, account in prepared.accounts.items()
            if key not in unsettled and not prepared.quarantine.protects(key)
        }
        steps, errors = settle_passwords(
            directory,
            self.settings.passwords,
            self.settings.state_dir,
            accounts,
            prepared.desired.entries,
            plan.changes,
            self.report.changes,
            prepared.mapping.password_write,
        )
        self.report.passwords = counted(steps)
        records = prepared.desired.records
        self.report.errors.extend(
            RecordError(records.get(e.record, e.record), e.problem) for e in errors
        )


def _open(ldap: LdapSettings) -> AbstractContextManager[Directory]:
    """Return the directory connection to open, unless a stop was requested (a safe point)."""
    stop.requested.check()
    return Directory.open(ldap)


def _logins(desired: Desired, scope: Collection[str]) -> set[str]:
    """Return the logins of the users an incremental run plans (case-folded)."""
    logins = set()
    for key in scope:
        want = desired.entries.get(key)
        if want is not None and want.kind.is_user:
            logins.add(dnlib.split_dn(want.dn)[0][1].casefold())
    return logins
