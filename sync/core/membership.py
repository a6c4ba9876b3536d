"""Group members as DNs: whom the source grants, and where their entries will be (pure).

The source grants memberships by key; a member value is a DN. Between the
two stands where each user entry is and where this run puts it: a renamed
user's groups name its new DN, a user moved to the disabled OU or deleted
is named by no group, and a user whose record is in error keeps the DN it
has. A DN that belongs to another record's entry is never written for a
record that did not get it.

Overlays such as refint (and Active Directory itself) rewrite member values
when an entry moves, and memberof keeps `memberOf` in step with them. So a
value naming an entry that moves leaves the group before the move, in a
change of its own, and the entry's new DN joins after it; only when that
would empty the group do both happen after the move, naming both DNs the
value may have then. Every member change carries the permissive-modify
control, and the apply step retries one whose value to delete is gone
(`without_absent`), so a change the overlay made first is no error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from sync.core import dn as dnlib
from sync.core.change import Change, Op


@dataclass
class Places:
    """Where the user entries are before this run and where they are after it."""

    keys: dict[str, str] = field(default_factory=dict)
    """Normalized DN -> the key of the user entry there now (or, unread, as desired)."""
    after: dict[str, str | None] = field(default_factory=dict)
    """Key -> the DN of its active entry after this run, None when it has none."""
    moving: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    """Key -> (DN it leaves, DN it gets or None) for user entries that move or go."""
    _leaving: set[str] | None = None

    def moves_any(self, values: Iterable[str]) -> bool:
        """Return whether one of these DNs is, as the directory wrote it, a DN an entry leaves.

        Both come from the directory (a read entry's DN, a member value),
        so they are spelt alike; this is the fast check before any DN is
        normalized.
        """
        if self._leaving is None:
            self._leaving = {old for old, _ in self.moving.values()}
        leaving = self._leaving
        return bool(leaving) and any(value in leaving for value in values)

    def key_at(self, dn: str) -> str | None:
        """Return the key of the user entry at `dn` now, if known."""
        return self.keys.get(dnlib.normalize_dn(dn))

    def final(self, key: str) -> str | None:
        """Return the DN the entry with this key has after the run, when active."""
        return self.after.get(key)


@dataclass(frozen=True)
class MemberDiff:
    """The member values to change in one group, before and after entries move."""

    before: tuple[str, ...]
    """Values removed before entries move: members leaving whose entry moves or goes."""
    add: tuple[str, ...]
    delete: tuple[str, ...]
    final: tuple[str, ...]


def final_members(
    wanted: Iterable[str],
    literal: Iterable[str],
    current: Iterable[str],
    keeps: Mapping[str, bool],
    keep_unknown: bool,
    places: Places,
) -> tuple[str, ...]:
    """Return the member DNs a group ends with.

    `wanted` are the granted keys, `literal` DNs that are members as they
    are, `current` the group's values now; `keeps` says for the keys found
    there whether their membership is unknown and so kept; `keep_unknown`
    whether values naming no known entry are kept too. DNs are compared as
    written here; `diff_members` compares them as the directory does.
    """
    found: dict[str, None] = {}
    for key in wanted:
        dn = places.final(key)
        if dn is not None:
            found[dn] = None
    found.update(dict.fromkeys(literal))
    if keeps or keep_unknown:
        for value in current:
            holder = places.key_at(value)
            if holder is None:
                if keep_unknown:
                    found[value] = None
            elif keeps.get(holder):
                dn = places.final(holder)
                if dn is not None:
                    found[dn] = None
    return tuple(found)


def diff_members(current: Iterable[str], final: Iterable[str], places: Places) -> MemberDiff:
    """Return the value-level change from `current` to `final` members.

    A value whose entry moves away this run (disabled, renamed, deleted)
    goes before the move, so no overlay has to rewrite it; if the group
    still wants that DN (a renamed member, or another entry that gets the
    DN) it is added back after the move. When that would empty the group
    (groupOfNames needs a member), the values go after the move instead,
    together with the DNs the move gave them, unless the group wants those.
    """
    have = {dnlib.normalize_dn(value): value for value in current}
    want = {dnlib.normalize_dn(value): value for value in final}
    vacated: list[str] = []
    moved_to: list[str] = []
    static_gone: list[str] = []
    stable: set[str] = set()
    for normalized, value in have.items():
        key = places.key_at(value)
        move = places.moving.get(key) if key is not None else None
        target = move[1] if move is not None else None
        if move is not None and (target is None or dnlib.normalize_dn(target) != normalized):
            vacated.append(value)
            if target is not None and dnlib.normalize_dn(target) not in want:
                moved_to.append(target)
        elif normalized in want:
            stable.add(normalized)
        else:
            static_gone.append(value)
    add = tuple(value for normalized, value in want.items() if normalized not in stable)
    if vacated and len(vacated) == len(have):
        late = [value for value in vacated if dnlib.normalize_dn(value) not in want]
        return MemberDiff((), add, (*late, *moved_to), tuple(want.values()))
    return MemberDiff(tuple(vacated), add, tuple(static_gone), tuple(want.values()))


def without_absent(change: Change, present: Iterable[str], members: str) -> Change | None:
    """Return a member change that adds only values the group lacks and deletes only values
    it holds, or None when nothing is left.

    slapd honours the permissive-modify control for values added twice, but
    refuses a delete whose last value is absent (an overlay removed or
    rewrote it first); 389-DS refuses an add of a value its referential
    integrity already wrote, and Active Directory a delete of a DN its own
    rewrite left naming no entry (`00002035`). Such a change is retried
    against the values the group holds after the move.
    """
    held = {dnlib.normalize_dn(value) for value in present}
    added = tuple(
        value
        for value in change.add_values.get(members, ())
        if dnlib.normalize_dn(value) not in held
    )
    deleted = tuple(
        value
        for value in change.delete_values.get(members, ())
        if dnlib.normalize_dn(value) in held
    )
    add_values = {n: v for n, v in change.add_values.items() if n != members}
    delete_values = {n: v for n, v in change.delete_values.items() if n != members}
    if added:
        add_values[members] = added
    if deleted:
        delete_values[members] = deleted
    if not (change.replace or add_values or delete_values):
        return None
    return replace(change, add_values=add_values, delete_values=delete_values)


def repair(
    change_dn: str, key: str, present: Iterable[str], final: Iterable[str], members: str
) -> Change | None:
    """Return the member change that turns a group's values read now into `final`, or None."""
    have = {dnlib.normalize_dn(value): value for value in present}
    want = {dnlib.normalize_dn(value): value for value in final}
    added = tuple(value for normalized, value in want.items() if normalized not in have)
    deleted = tuple(value for normalized, value in have.items() if normalized not in want)
    if not (added or deleted):
        return None
    return Change(
        Op.MODIFY,
        change_dn,
        key,
        add_values={members: added} if added else {},
        delete_values={members: deleted} if deleted else {},
    )


@dataclass
class Applied:
    """What the directory made of this run's user changes so far."""

    refused: dict[str, str | None] = field(default_factory=dict)
    """Normalized DN whose add or rename was refused -> the DN the entry still has (or None)."""
    relocated: dict[str, str] = field(default_factory=dict)
    """Normalized DN a move was planned to -> the DN the entry went to instead."""
    refused_groups: dict[str, str | None] = field(default_factory=dict)
    """Normalized DN a group's add or rename was refused at (the entry there is someone
    else's) -> the DN the group still has (None: none)."""


def settle_members(change: Change, outcome: Applied, members: str) -> Change | None:
    """Return a group change naming the DNs its members really have, or None when empty.

    A refused DN belongs to someone else: it is never written, and the
    member keeps the DN it has. A value to delete because an entry moved
    there also goes where the entry moved instead.
    """
    if not (outcome.refused or outcome.relocated) or change.op not in (Op.ADD, Op.MODIFY):
        return change
    refused = outcome.refused

    def settled(values: tuple[str, ...]) -> tuple[str, ...]:
        out: dict[str, str] = {}
        for value in values:
            normalized = dnlib.normalize_dn(value)
            target = refused.get(normalized, value)
            if target is not None:
                out.setdefault(dnlib.normalize_dn(target), target)
        return tuple(out.values())

    if change.op is Op.ADD:
        if members not in change.replace:
            return change
        kept = settled(change.replace[members])
        return replace(change, replace={**change.replace, members: kept}) if kept else None
    substituted = settled(change.add_values.get(members, ()))
    leaving = [
        moved
        for value in change.delete_values.get(members, ())
        for moved in (value, outcome.relocated.get(dnlib.normalize_dn(value)))
        if moved is not None
    ]
    # a member whose old DN the change was deleting keeps it: neither written nor deleted
    staying = {dnlib.normalize_dn(value) for value in substituted}
    leaving_norm = {dnlib.normalize_dn(value) for value in leaving}
    added = tuple(v for v in substituted if dnlib.normalize_dn(v) not in leaving_norm)
    deleted = tuple(v for v in leaving if dnlib.normalize_dn(v) not in staying)
    add_values = {name: values for name, values in change.add_values.items() if name != members}
    delete_values = {n: v for n, v in change.delete_values.items() if n != members}
    if added:
        add_values[members] = added
    if deleted:
        delete_values[members] = deleted
    if not (change.replace or add_values or delete_values):
        return None
    return replace(change, add_values=add_values, delete_values=delete_values)
