"""The order in which a plan's changes reach the directory, and its stages (pure).

Each change has a phase, and the plan lists its changes phase by phase;
within a phase the changes are independent. Renames are ordered among
themselves so none targets a DN still held, through a temporary name when
users swap logins. The apply step writes one stage at a time, all changes of
a stage in flight together (`stage_of`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from sync.core import dn as dnlib
from sync.core.change import Change, Op, Reason
from sync.core.entry import EntryKey


def in_order(changes: Iterable[Change], occupied: set[str]) -> tuple[Change, ...]:
    """Return the changes in an order the directory accepts.

    `occupied` holds the normalized DNs of the entries that exist now.
    """
    changes = list(changes)
    targets = {
        dnlib.normalize_dn(change.new_dn or change.dn)
        for change in changes
        if change.op in (Op.ADD, Op.RENAME)
    }
    phases: dict[int, list[Change]] = {}
    renames: list[Change] = []
    for change in changes:
        if change.op is Op.RENAME:
            renames.append(change)
            continue
        if change.op is Op.DELETE and dnlib.normalize_dn(change.dn) in targets:
            change = replace(change, reason=Reason.MAKE_ROOM)
        phases.setdefault(phase_of(change), []).append(change)
    phases[4] = _order_renames(renames, occupied)
    return tuple(change for phase in sorted(phases) for change in phases[phase])


def phase_of(change: Change) -> int:
    """Return the position of a change among the plan's phases.

    0 containers, 1 group deletes and deletes that free a DN, 2 disable
    markers and logins released (AD), 3 members leaving before their
    entries move, 4 renames and moves, 5 users, 6 groups, 7 user deletes.
    """
    is_group = _is_group(change)
    if change.op is Op.ADD_CONTAINER:
        return 0
    if change.reason is Reason.MAKE_ROOM or (change.op is Op.DELETE and is_group):
        return 1
    if change.reason in (Reason.DISABLE, Reason.RELEASE):
        return 2
    if change.reason is Reason.BEFORE_MOVE:
        return 3
    if change.op in (Op.ADD, Op.MODIFY):
        return 6 if is_group else 5
    return 7


def stage_of(change: Change) -> tuple[int, str, bool, str]:
    """Return the stage of a change: the apply step writes the plan one stage at a time.

    A stage is the run of consecutive changes of one phase, operation
    (adds and modifies count as one), kind of entry and reason. Its changes
    may be in flight together, and a change retried after its stage (a
    disabled user moved under a name of its own, a member change without a
    value an overlay removed) is done before the next stage starts, e.g.
    before a rename into the DN the disabled user leaves.
    """
    op = "write" if change.op in (Op.ADD, Op.MODIFY) else change.op.value
    return phase_of(change), op, _is_group(change), change.reason.value


def _is_group(change: Change) -> bool:
    return change.key is not None and EntryKey.kind(change.key).is_group


def _order_renames(renames: list[Change], occupied: set[str]) -> list[Change]:
    """Order renames so none targets a DN still held; break cycles with a temporary name."""
    ordered: list[Change] = []
    pending = sorted(renames, key=lambda change: change.reason is not Reason.DISABLE)
    while pending:
        ready = [
            change
            for change in pending
            if change.new_dn is not None
            and (
                dnlib.normalize_dn(change.new_dn) not in occupied
                or dnlib.normalize_dn(change.new_dn) == dnlib.normalize_dn(change.dn)
            )
        ]
        if not ready:
            first = pending[0]
            moving = {dnlib.normalize_dn(change.dn) for change in pending}
            assert first.new_dn is not None
            if dnlib.normalize_dn(first.new_dn) not in moving:
                ordered.extend(pending)
                break
            attribute, value = dnlib.split_dn(first.dn)[0]
            temporary = (
                f"{dnlib.rdn(attribute, value + '.portal-sync-moving')},{dnlib.parent_dn(first.dn)}"
            )
            ordered.append(replace(first, new_dn=temporary))
            occupied.discard(dnlib.normalize_dn(first.dn))
            occupied.add(dnlib.normalize_dn(temporary))
            pending[0] = replace(first, dn=temporary)
            continue
        for change in ready:
            assert change.new_dn is not None
            occupied.discard(dnlib.normalize_dn(change.dn))
            occupied.add(dnlib.normalize_dn(change.new_dn))
            ordered.append(change)
            pending.remove(change)
    return ordered
