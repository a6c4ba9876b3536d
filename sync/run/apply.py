"""Apply a plan: stage by stage, pipelined within a stage.

A refused change is a record error, not the end of the run.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from itertools import groupby

from sync import stop
from sync.core import dn as dnlib
from sync.core.change import Change, Op, Reason
from sync.core.entry import EntryKey
from sync.core.membership import Applied, repair, settle_members, without_absent
from sync.core.phases import stage_of
from sync.core.plan import Plan, unique_disabled_dn
from sync.core.problems import Problem, RecordError
from sync.core.report import Report
from sync.errors import AlreadyExists, NoSuchEntry, NoSuchValue
from sync.ldap.directory import Directory
from sync.progress import Progress
from sync.run.incremental import unreadable_ou
from sync.run.prepare import Prepared

log = logging.getLogger("portal_sync")


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
        stop.requested.check()  # between stages: a stage is written whole or not at all
        batch: list[Change] = []
        for planned in stage:
            change: Change | None = planned
            if planned.key is not None:
                members = mapping.kinds[EntryKey.kind(planned.key)].members
                if members:
                    kept = _stays_put(planned, outcome)
                    change = kept and settle_members(kept, outcome, members)
                    if change != planned:
                        unsettled.add(planned.key)
                elif planned.op is Op.MODIFY and _not_there(planned, outcome):
                    change = None
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
    repairs = _repairs(directory, plan, prepared, outcome, unsettled)
    _apply(directory, repairs, 1, prepared, report, outcome, unsettled, progress, retry=False)
    # a rewrite later still than the repair is read, and repaired, by the next run
    unsettled.update(key for key, _, _ in plan.recheck)
    return unsettled


def _repairs(
    directory: Directory, plan: Plan, prepared: Prepared, outcome: Applied, unsettled: set[str]
) -> list[Change]:
    """Return the member changes that undo what an overlay rewrote late in the groups to recheck.

    A group naming a DN one entry left and another took in this run is
    read again once every change is written: slapd's refint rewrites the
    values naming a renamed entry after the rename has returned, and may
    have turned the value written for the new holder into the DN the old
    one moved to. Groups whose change was refused are left to the next run.
    """
    repairs: list[Change] = []
    for key, dn, final in plan.recheck:
        members = prepared.mapping.kinds[EntryKey.kind(key)].members
        if members is None or key in unsettled:
            continue
        try:
            present = directory.read_values(dn, members)
        except NoSuchEntry:
            continue
        change = repair(dn, key, present, final, members)
        if change is not None:
            change = settle_members(change, outcome, members)
        if change is not None:
            log.warning(
                "repairing %s: an overlay rewrote its members after this run wrote them", dn
            )
            repairs.append(change)
    return repairs


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
    A member change refused (a value to delete is gone, a value to add is
    there already: an overlay such as refint, or Active Directory itself,
    rewrote it when the member moved) is tried again against the values the
    group holds now (`without_absent`).
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
        if retry and change.op is Op.MODIFY and _member_change(change, prepared):
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
        if isinstance(refusal, AlreadyExists):
            _require_visible(directory, change, refusal)
            refusal = _held_login(directory, change, refusal, prepared) or refusal
        _refused(change, refusal, prepared, report, outcome, unsettled)
    for change in absent:
        members = prepared.mapping.kinds[EntryKey.kind(change.key)].members if change.key else None
        if members is None:
            _refused(change, NoSuchValue(change.dn), prepared, report, outcome, unsettled)
            continue
        try:
            present = directory.read_values(change.dn, members)
        except NoSuchEntry as gone:  # deleted by hand since this run read it
            _refused(change, gone, prepared, report, outcome, unsettled)
            continue
        reduced = without_absent(change, present, members)
        if reduced is not None:
            again.append(reduced)
    return again


def _require_visible(directory: Directory, change: Change, refusal: AlreadyExists) -> None:
    """Raise ConfigurationError when an add was refused for an entry the account cannot see.

    An entry of someone else at the DN is a collision (a record error); an
    entry the service account's searches do not find is an OU it cannot read.
    An add the server refused with a reason of its own (Active Directory: a
    login another account holds) stays a collision.
    """
    if change.op not in (Op.ADD, Op.ADD_CONTAINER):
        return
    if (change.op is Op.ADD and refusal.diagnostic) or directory.exists(change.dn):
        return
    ou = change.dn if change.op is Op.ADD_CONTAINER else dnlib.parent_dn(change.dn)
    raise unreadable_ou(
        ou,
        directory.account,
        f"adding {change.dn} answers that it exists, a search that it does not",
    )


def _held_login(
    directory: Directory, change: Change, refusal: AlreadyExists, prepared: Prepared
) -> AlreadyExists | None:
    """Return the refusal of a user change naming the entry that holds its login, if found.

    Active Directory refuses a login attribute (sAMAccountName,
    userPrincipalName) another account of the domain holds, wherever it is:
    a restored user whose login was given to someone else, an entry made by
    hand. The holder is looked up in the whole domain (its dc= components).
    """
    mapping = prepared.mapping
    if not mapping.released or change.op not in (Op.ADD, Op.MODIFY) or change.key is None:
        return None
    wanted = {
        name: value for name in mapping.released for value in change.replace.get(name, ()) if value
    }
    if not wanted:
        return None
    terms = "".join(f"({name}={dnlib.escape_filter_value(v)})" for name, v in wanted.items())
    domain = ",".join(
        f"{attribute}={value}"
        for attribute, value in dnlib.split_dn(change.dn)
        if attribute.lower() == "dc"
    )
    holders = [
        dn
        for dn, _ in directory.search(domain or change.dn, f"(|{terms})", ["1.1"])
        if dnlib.normalize_dn(dn) != dnlib.normalize_dn(change.dn)
    ]
    if not holders:
        return None
    logins = ", ".join(repr(value) for value in wanted.values())
    return AlreadyExists(
        f"{refusal}: its login ({logins}) is held by {holders[0]}; the login stays with that "
        f"entry until it gives it up, and {change.dn} gets it on a later run"
    )


def _member_change(change: Change, prepared: Prepared) -> bool:
    """Return whether a change adds or deletes member values of a group.

    Such a change refused is tried once more against the values the group
    holds now: the directory may have rewritten them itself when a member
    moved (refint, 389-DS's referential integrity, Active Directory).
    """
    if change.key is None:
        return False
    members = prepared.mapping.kinds[EntryKey.kind(change.key)].members
    return members is not None and (members in change.add_values or members in change.delete_values)


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
        target = f" ({change.new_dn} is taken)" if change.op is Op.RENAME else ""
        problem = (
            f"collision: {refusal}{target} (an entry portal-sync does not own, or one of a "
            "record in error); skipped, the existing entry is left untouched"
        )
    report.errors.append(RecordError(record, problem, change.key, why=Problem.DIRECTORY))
    if change.key:
        unsettled.add(change.key)
        if EntryKey.kind(change.key).is_user:
            _note_refused(change, outcome.refused)
        elif change.op is Op.ADD:
            outcome.refused_groups[dnlib.normalize_dn(change.dn)] = None
        elif change.op is Op.RENAME and change.new_dn:
            outcome.refused_groups[dnlib.normalize_dn(change.new_dn)] = change.dn
    log.warning("skipped %s: %s", record, refusal)


def _stays_put(change: Change, outcome: Applied) -> Change | None:
    """Return a group change aimed at the DN the group still has when its rename was refused.

    The entry at the refused name is someone else's and is never written;
    None when the group has no entry (its add was refused).
    """
    normalized = dnlib.normalize_dn(change.dn)
    if normalized not in outcome.refused_groups:
        return change
    still = outcome.refused_groups[normalized]
    return None if still is None else replace(change, dn=still)


def _not_there(change: Change, outcome: Applied) -> bool:
    """Return whether a user modify targets a DN its entry did not get (its add or rename was
    refused): the entry there, if any, is someone else's and is never written."""
    return dnlib.normalize_dn(change.dn) in outcome.refused


def _note_refused(change: Change, refused: dict[str, str | None]) -> None:
    """Remember which DN a user did not get, and the DN its entry still has (None: none).

    A restore whose modify was refused (its login is held by another
    account) leaves the entry disabled: no group names it.
    """
    if change.op is Op.ADD or (change.op is Op.MODIFY and change.reason is Reason.RESTORE):
        refused[dnlib.normalize_dn(change.dn)] = None
    elif change.op is Op.RENAME and change.new_dn and change.reason is not Reason.DISABLE:
        still = change.dn if change.reason is Reason.NONE else None
        refused[dnlib.normalize_dn(change.new_dn)] = still
