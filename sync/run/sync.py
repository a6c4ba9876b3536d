"""One sync run: read, validate, build, read the directory, plan, apply, report.

The CLI one-shot and the daemon both call `run_sync` and get a Report back;
it never raises for an expected failure, the report says what happened.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from itertools import groupby

from sync import clock
from sync.core import dn as dnlib
from sync.core.decisions import Decision, decisions
from sync.core.desired import Desired, build_desired
from sync.core.digest import RunRecord, desired_digests, fingerprint, moving_dns
from sync.core.entry import Entry, EntryKey, Kind
from sync.core.grants import read_grants
from sync.core.guard import guard_reason
from sync.core.mapping import Mapping, load_mapping
from sync.core.membership import Applied, settle_members, without_absent
from sync.core.phases import stage_of
from sync.core.plan import Change, Op, Plan, Reason, make_plan, unique_disabled_dn
from sync.core.problems import Quarantine, RecordError
from sync.core.report import STOPPING, Outcome, Report, outcome_of
from sync.core.rules import apply_rules
from sync.errors import (
    AlreadyExists,
    NoSuchValue,
)
from sync.ldap.directory import Directory
from sync.progress import Progress
from sync.run.incremental import Incremental
from sync.run.passwords import SourceAccount, counted, settle_passwords, source_accounts
from sync.run.state import file_digest
from sync.settings import Settings
from sync.sources.document import read_document

log = logging.getLogger("portal_sync")


@dataclass
class Prepared:
    """The source side of a run: the desired entries and what the source got wrong."""

    mapping: Mapping
    desired: Desired
    quarantine: Quarantine
    errors: list[RecordError]
    accounts: dict[str, SourceAccount] = field(default_factory=dict)
    decisions: list[Decision] = field(default_factory=list)
    """The valid records the rules left without an entry, and why."""


def prepare(settings: Settings, progress: Progress | None = None) -> Prepared:
    """Return the desired directory for the configured source; no directory access."""
    progress = progress or Progress()
    progress.stage("reading the source")
    source = settings.source
    loaded = read_document(source.path, source.max_size, source.name_of("max_size"))
    progress.stage("building")
    mapping = load_mapping(settings.mapping.path)
    structure, rule_errors = apply_rules(loaded.document, loaded.quarantine)
    document = loaded.document
    broken = not document.customers and not document.internal_users
    if broken:
        loaded.quarantine.kinds.update(kind.value for kind in Kind)
    grants = read_grants(loaded.raw, settings.rules, loaded.quarantine.kinds, broken_export=broken)
    loaded.raw = None  # the parsed text is large: hold it no longer than the grants need it
    desired = build_desired(structure, settings.tree, mapping, loaded.quarantine, grants)
    errors = [*loaded.errors, *rule_errors, *desired.errors]
    if broken:
        errors.append(
            RecordError(
                "source document",
                "it holds no customer and no internal user; treated as a broken export, "
                "nothing is deleted or disabled",
            )
        )
    accounts = source_accounts(structure)
    left_out = decisions(structure, desired, loaded.quarantine)
    return Prepared(mapping, desired, loaded.quarantine, errors, accounts, left_out)


def read_current(
    directory: Directory,
    settings: Settings,
    mapping: Mapping,
    keys: Collection[str] | None = None,
    progress: Progress | None = None,
) -> list[Entry]:
    """Return every entry in the managed subtrees that carries this service's identity.

    With `keys`, return only the entries carrying one of these keys.
    """
    progress = progress or Progress()
    progress.stage("reading the directory", len(keys) if keys is not None else None)
    bases = settings.tree.managed()
    entries = []
    found = (
        directory.read_managed(
            bases, mapping.identity_attribute, mapping.identity_prefix, mapping.attributes_read()
        )
        if keys is None
        else directory.read_identities(
            bases,
            mapping.identity_attribute,
            [mapping.identity_value(key) for key in keys],
            mapping.attributes_read(),
        )
    )
    for dn, attributes in found:
        progress.advance()
        carried = [
            k for v in attributes.get(mapping.identity_attribute, ()) if (k := mapping.key_of(v))
        ]
        if carried:
            entries.append(Entry(carried[0], dn, attributes))
    return entries


def groups_naming(
    directory: Directory, settings: Settings, mapping: Mapping, dns: Collection[str]
) -> list[Entry]:
    """Return the managed groups whose members name one of these DNs."""
    found: list[Entry] = []
    if not dns:
        return found
    for kind in Kind:
        members = mapping.kinds[kind].members
        if not kind.is_group or members is None:
            continue
        base = settings.tree.base(kind)
        for dn, attributes in directory.read_holding(
            [base], members, dns, mapping.attributes_read()
        ):
            carried = [
                k
                for v in attributes.get(mapping.identity_attribute, ())
                if (k := mapping.key_of(v))
            ]
            if carried and carried[0].kind is kind:
                found.append(Entry(carried[0], dn, attributes))
    return found


def plan_run(
    directory: Directory,
    settings: Settings,
    prepared: Prepared,
    now: datetime,
    keys: Collection[str] | None = None,
    gone: dict[str, Entry] | None = None,
    progress: Progress | None = None,
) -> Plan:
    """Return the plan that brings the directory to the prepared desired state.

    With `keys` (an incremental run), read and plan only the entries with these keys,
    and the groups whose members name a DN an entry leaves or gets in this run.
    `gone` receives the entries read that the source no longer wants.
    """
    directory.require_base(settings.ldap.base_dn)
    current = read_current(directory, settings, prepared.mapping, keys, progress)
    if keys is not None:
        dns = moving_dns(prepared.desired, keys, current)
        found = groups_naming(directory, settings, prepared.mapping, dns)
        known = {entry.key for entry in current}
        current += [entry for entry in found if entry.key not in known]
        keys = {*keys, *(entry.key for entry in found)}
    if gone is not None:
        wanted = prepared.desired.entries
        gone.update((entry.key, entry) for entry in current if entry.key not in wanted)
    existing = [dn for dn in prepared.desired.containers if directory.exists(dn)]
    return make_plan(
        prepared.desired,
        current,
        existing,
        prepared.mapping,
        prepared.quarantine,
        now=now,
        retention=timedelta(days=settings.safety.retention_days),
        scope=keys,
    )


def apply_plan(
    directory: Directory,
    plan: Plan,
    prepared: Prepared,
    report: Report,
    window: int = 1,
    progress: Progress | None = None,
) -> set[str]:
    """Apply the plan stage by stage, pipelined within a stage; return the keys left unsettled.

    The plan's order holds across stages: a stage starts when the one before
    has all its answers (containers, renames, users, groups, deletes).
    Containers and renames go one at a time. A refused change is a record
    error, not the end; its key, and those of groups that had to name a
    member otherwise, are returned as not in their desired state. A DN whose
    add or rename was refused belongs to someone else: no group gets it.
    """
    mapping = prepared.mapping
    outcome = Applied()
    unsettled: set[str] = set()
    progress = progress or Progress()
    progress.stage("applying", len(plan.changes))
    for _, stage in groupby(plan.changes, key=stage_of):
        batch: list[Change] = []
        for planned in stage:
            change: Change | None = planned
            if planned.key is not None:
                members = mapping.kinds[EntryKey(planned.key).kind].members
                if members:
                    change = settle_members(planned, outcome, members)
                    if change != planned:
                        unsettled.add(planned.key)
            if change is not None:
                batch.append(change)
            else:
                progress.advance()
        if not batch:
            continue
        width = window if batch[0].op in (Op.ADD, Op.MODIFY, Op.DELETE) else 1
        retries = _apply(directory, batch, width, prepared, report, outcome, unsettled, progress)
        _apply(directory, retries, 1, prepared, report, outcome, unsettled, progress, retry=False)
    return unsettled


def _apply(
    directory: Directory,
    batch: list[Change],
    width: int,
    prepared: Prepared,
    report: Report,
    outcome: Applied,
    unsettled: set[str],
    progress: Progress,
    *,
    retry: bool = True,
) -> list[Change]:
    """Write one stage; record refusals; return the changes worth one more try.

    A user disabled while another disabled entry holds its name in the
    disabled OU (its login was given again) moves under a name of its own.
    A member change refused because a value to delete is gone (an overlay
    such as refint removed or rewrote it) is tried again without it.
    """
    again: list[Change] = []
    if not batch:
        return again
    absent: list[Change] = []
    for change, refusal in directory.apply_pipelined(batch, width):
        if retry:
            progress.advance()
        if refusal is None:
            report.changes.append(change)
            continue
        if retry and isinstance(refusal, NoSuchValue) and change.op is Op.MODIFY:
            absent.append(change)
            continue
        if (
            retry
            and isinstance(refusal, AlreadyExists)
            and change.reason is Reason.DISABLE
            and change.key is not None
            and change.new_dn is not None
        ):
            base = dnlib.parent_dn(change.new_dn)
            unique = unique_disabled_dn(change.dn, change.key, base)
            again.append(replace(change, new_dn=unique))
            outcome.relocated[dnlib.normalize_dn(change.new_dn)] = unique
            continue
        _refused(change, refusal, prepared, report, outcome, unsettled)
    for change in absent:
        members = prepared.mapping.kinds[EntryKey(change.key).kind].members if change.key else None
        if members is None:
            _refused(change, NoSuchValue(change.dn), prepared, report, outcome, unsettled)
            continue
        reduced = without_absent(change, directory.read_values(change.dn, members), members)
        if reduced is not None:
            again.append(reduced)
    return again


def _refused(
    change: Change,
    refusal: Exception,
    prepared: Prepared,
    report: Report,
    outcome: Applied,
    unsettled: set[str],
) -> None:
    """Report a change the directory refused, and remember what it means for later stages."""
    record = prepared.desired.records.get(change.key or "", change.key or change.dn)
    problem = str(refusal)
    if isinstance(refusal, AlreadyExists):
        problem = (
            f"collision: {refusal} (an entry portal-sync does not own, or one of a "
            "record in error); skipped, the existing entry is left untouched"
        )
    report.errors.append(RecordError(record, problem))
    if change.key:
        unsettled.add(change.key)
        if EntryKey(change.key).kind.is_user:
            _note_refused(change, outcome.refused)
    log.warning("skipped %s: %s", record, refusal)


def _note_refused(change: Change, refused: dict[str, str | None]) -> None:
    """Remember which DN a user did not get, and the DN its entry still has (None: none)."""
    if change.op is Op.ADD:
        refused[dnlib.normalize_dn(change.dn)] = None
    elif change.op is Op.RENAME and change.new_dn and change.reason is not Reason.DISABLE:
        still = change.dn if change.reason is Reason.NONE else None
        refused[dnlib.normalize_dn(change.new_dn)] = still


def settle_run_passwords(
    directory: Directory,
    settings: Settings,
    prepared: Prepared,
    plan: Plan,
    report: Report,
    unsettled: Collection[str] = (),
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
        settings,
        accounts,
        prepared.desired.entries,
        plan.changes,
        report.changes,
    )
    report.passwords = counted(steps)
    records = prepared.desired.records
    report.errors.extend(RecordError(records.get(e.record, e.record), e.problem) for e in errors)


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
    progress = progress or Progress()
    at = now or report.started
    try:
        try:
            source_digest = file_digest(settings.source.path)
        except OSError:
            source_digest = ""
        printed = fingerprint(settings.ldap.url, settings.tree, load_mapping(settings.mapping.path))
        cache = Incremental.start(
            settings.performance, settings.state_dir, printed, source_digest, full=full, clock=at
        )
        unchanged = cache.source_unchanged() and not explain
        prepared = None if unchanged else prepare(settings, progress)
        if prepared is not None:
            report.decisions = prepared.decisions
        progress.stage("connecting to the directory")
        with hold(), Directory.open(settings.ldap) as directory:
            report.directory_started = clock.now()
            directory.require_base(settings.ldap.base_dn)
            cache.check_containers(directory, settings.tree.containers())
            if cache.source_unchanged() and (prepared is None or explain):
                log.info("the source is the one the last clean run applied: nothing to do")
                report.managed = cache.managed()
            else:
                prepared = prepared or prepare(settings, progress)
                report.decisions = prepared.decisions
                report.errors.extend(prepared.errors)
                kinds = (EntryKey(key).kind.value for key in prepared.desired.entries)
                report.managed = dict(Counter(kinds))
                digests = desired_digests(prepared.desired)
                keys = cache.keys_to_read(digests, prepared.quarantine)
                gone: dict[str, Entry] = {}
                plan = plan_run(directory, settings, prepared, at, keys, gone, progress)
                plan = cache.with_managed(plan)
                report.errors.extend(plan.errors)
                held = guard_reason(plan, settings.safety, allow_deletions)
                report.withdrawn.extend(plan.withdrawn)
                if held:
                    report.pending.extend(plan.destructive())
                    report.fail(
                        Outcome.DELETION_GUARD,
                        f"{held}; nothing was applied. Review the pending changes, then approve "
                        f"with: portal-sync run --allow-deletions {len(report.pending)}",
                    )
                    if dry_run:
                        report.changes.extend(plan.changes)
                elif dry_run:
                    report.changes.extend(plan.changes)
                else:
                    window = settings.performance.write_window
                    unsettled = apply_plan(directory, plan, prepared, report, window, progress)
                    settle_run_passwords(directory, settings, prepared, plan, report, unsettled)
                    unsettled |= plan.unsettled
                    retention = timedelta(days=settings.safety.retention_days)
                    done = RunRecord(
                        at, retention, digests, gone, report, prepared.quarantine, unsettled
                    )
                    cache.save(done, prepared.mapping)
    except STOPPING as exc:
        report.fail(outcome_of(exc), str(exc))
    report.finish(clock.now())
    log.info("%s", report.to_text(verbose=False))
    return report
