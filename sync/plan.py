"""The difference between the desired and the current directory, as ordered changes (pure).

Entries are matched by key (the stable source ID in the identity attribute),
never by DN: a changed DN is a rename of the same entry. Group membership is
diffed value by value, so adding one member never rewrites a group.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from collections.abc import Mapping as AbstractMapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from sync import dn as dnlib
from sync.desired import Desired
from sync.entry import Attributes, Entry, key_kind
from sync.mapping import Mapping
from sync.problems import Quarantine, RecordError


class Op(StrEnum):
    """What a change does to the directory."""

    ADD_CONTAINER = "add-container"
    RENAME = "rename"
    ADD = "add"
    MODIFY = "modify"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class Change:
    """One write to the directory.

    For ADD, `replace` holds every attribute of the new entry; for MODIFY it
    holds attributes to set to exactly these values (an empty tuple removes
    the attribute), and `add_values`/`delete_values` hold member values.
    """

    op: Op
    dn: str
    key: str | None = None
    new_dn: str | None = None
    object_classes: tuple[str, ...] = ()
    replace: AbstractMapping[str, tuple[str, ...]] = field(default_factory=dict)
    add_values: AbstractMapping[str, tuple[str, ...]] = field(default_factory=dict)
    delete_values: AbstractMapping[str, tuple[str, ...]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """Return this change as plain data for reports."""
        data: dict[str, object] = {"op": self.op.value, "dn": self.dn}
        if self.key:
            data["key"] = self.key
        if self.new_dn:
            data["new_dn"] = self.new_dn
        for name in ("replace", "add_values", "delete_values"):
            values = getattr(self, name)
            if values:
                data[name] = {attribute: list(v) for attribute, v in values.items()}
        return data


@dataclass(frozen=True)
class Plan:
    """The ordered changes of one run, and the problems found while planning."""

    changes: tuple[Change, ...]
    errors: tuple[RecordError, ...] = ()

    def counts(self) -> dict[str, int]:
        """Return the number of changes per operation."""
        return dict(Counter(change.op.value for change in self.changes))


def _phase(change: Change) -> int:
    """Return the position of a change: containers, renames, users, groups, deletes."""
    is_group = change.key is not None and key_kind(change.key).is_group
    if change.op is Op.ADD_CONTAINER:
        return 0
    if change.op is Op.RENAME:
        return 1
    if change.op in (Op.ADD, Op.MODIFY):
        return 4 if is_group else 2
    return 5 if is_group else 6


def make_plan(
    desired: Desired,
    current: Iterable[Entry],
    existing_containers: Iterable[str],
    mapping: Mapping,
    quarantine: Quarantine,
) -> Plan:
    """Return the changes that turn the current directory into the desired one."""
    errors: list[RecordError] = []
    by_key: dict[str, Entry] = {}
    for entry in current:
        other = by_key.get(entry.key)
        if other is not None:
            errors.append(
                RecordError(
                    entry.key, f"two entries carry this identity: {other.dn} and {entry.dn}"
                )
            )
            quarantine.keys.add(entry.key)
            continue
        by_key[entry.key] = entry
    protected_members = {
        dnlib.normalize_dn(entry.dn) for entry in by_key.values() if quarantine.protects(entry.key)
    }

    changes: list[Change] = []
    known = {dnlib.normalize_dn(dn) for dn in existing_containers}
    for container in desired.containers:
        if dnlib.normalize_dn(container) not in known:
            attribute, value = dnlib.split_dn(container)[0]
            changes.append(
                Change(
                    Op.ADD_CONTAINER,
                    container,
                    object_classes=mapping.container_classes,
                    replace={attribute.lower(): (value,)},
                )
            )

    for key, want in desired.entries.items():
        if quarantine.protects(key):
            continue
        kind_mapping = mapping.kinds[want.kind]
        have = by_key.get(key)
        if have is None:
            changes.append(
                Change(
                    Op.ADD,
                    want.dn,
                    key,
                    object_classes=kind_mapping.object_classes,
                    replace={name: values for name, values in want.attributes.items() if values},
                )
            )
            continue
        if have.dn != want.dn and _needs_rename(have.dn, want.dn):
            changes.append(Change(Op.RENAME, have.dn, key, new_dn=want.dn))
        modify = _modify(
            have, want, kind_mapping.rdn, kind_mapping.members, mapping, protected_members
        )
        if modify is not None:
            changes.append(modify)

    for key, have in by_key.items():
        if key not in desired.entries and not quarantine.blocks_deletion(key):
            changes.append(Change(Op.DELETE, have.dn, key))

    changes.sort(key=_phase)
    return Plan(tuple(changes), tuple(errors))


def _needs_rename(have: str, want: str) -> bool:
    """Return whether an entry must move: another parent, or an RDN value spelt otherwise."""
    if dnlib.normalize_dn(have) != dnlib.normalize_dn(want):
        return True
    return dnlib.split_dn(have)[0][1] != dnlib.split_dn(want)[0][1]


def _modify(
    have: Entry,
    want: Entry,
    rdn_attribute: str,
    members: str | None,
    mapping: Mapping,
    protected_members: set[str],
) -> Change | None:
    """Return the attribute-level modify from `have` to `want`, or None when equal."""
    replace_values: Attributes = {}
    add_values: Attributes = {}
    delete_values: Attributes = {}
    for name, values in want.attributes.items():
        if name in (mapping.identity_attribute, rdn_attribute):
            continue
        current = have.attributes.get(name, ())
        if name == members:
            if set(current) == set(values):
                continue
            have_norm = {dnlib.normalize_dn(value): value for value in current}
            want_norm = {dnlib.normalize_dn(value): value for value in values}
            added = tuple(v for n, v in want_norm.items() if n not in have_norm)
            removed = tuple(
                v for n, v in have_norm.items() if n not in want_norm and n not in protected_members
            )
            if added:
                add_values[name] = added
            if removed:
                delete_values[name] = removed
        elif set(current) != set(values):
            replace_values[name] = values
    if not (replace_values or add_values or delete_values):
        return None
    return Change(
        Op.MODIFY,
        want.dn,
        want.key,
        replace=replace_values,
        add_values=add_values,
        delete_values=delete_values,
    )


def without_members(change: Change, refused: set[str], members: str) -> Change | None:
    """Return a group change whose member values leave out DNs whose add was refused.

    When a user's add fails (for example an entry the service does not own
    already holds the DN), the groups must not name that DN: it would grant
    the other entry access. Returns None when nothing is left to write.
    """
    if not refused or change.op not in (Op.ADD, Op.MODIFY):
        return change

    def keep(values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(value for value in values if dnlib.normalize_dn(value) not in refused)

    if change.op is Op.ADD:
        kept = keep(change.replace.get(members, ()))
        if members in change.replace and not kept:
            return None
        return (
            replace(change, replace={**change.replace, members: kept})
            if members in change.replace
            else change
        )
    added = keep(change.add_values.get(members, ()))
    add_values = (
        {**change.add_values, members: added}
        if added
        else {name: values for name, values in change.add_values.items() if name != members}
    )
    if not (change.replace or add_values or change.delete_values):
        return None
    return replace(change, add_values=add_values)
