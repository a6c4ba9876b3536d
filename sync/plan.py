"""The difference between the desired and the current directory, as ordered changes (pure).

Entries are matched by key (the stable source ID in the identity attribute),
never by DN: a changed DN is a rename of the same entry. Group membership is
diffed value by value, so adding one member never rewrites a group.

Users are never deleted straight away: a user who leaves the source (or
whose account is disabled) is disabled first, i.e. marked with a
`disabled-since:` value in the identity attribute, taken out of every group
and moved to the disabled OU; after the retention period it is deleted. A
user who comes back before that is restored: same entry, same password.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from collections.abc import Mapping as AbstractMapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sync import dn as dnlib
from sync.desired import Desired
from sync.entry import Attributes, Entry, key_kind
from sync.mapping import KindMapping, Mapping
from sync.problems import Quarantine, RecordError

DISABLED_TAG = "disabled-since:"
DEFAULT_RETENTION = timedelta(days=30)


class Op(StrEnum):
    """What a change does to the directory."""

    ADD_CONTAINER = "add-container"
    RENAME = "rename"
    ADD = "add"
    MODIFY = "modify"
    DELETE = "delete"


class Reason(StrEnum):
    """Why a lifecycle change happens, when it is more than keeping an entry up to date."""

    NONE = ""
    DISABLE = "disable"
    RESTORE = "restore"
    RETENTION_EXPIRED = "retention-expired"
    LEFT_SOURCE = "left-source"
    MAKE_ROOM = "make-room"


@dataclass(frozen=True, slots=True)
class Change:
    """One write to the directory.

    For ADD, `replace` holds every attribute of the new entry; for MODIFY it
    holds attributes to set to exactly these values (an empty tuple removes
    the attribute), and `add_values`/`delete_values` hold single values to
    add or remove (group members, lifecycle markers).
    """

    op: Op
    dn: str
    key: str | None = None
    new_dn: str | None = None
    object_classes: tuple[str, ...] = ()
    replace: AbstractMapping[str, tuple[str, ...]] = field(default_factory=dict)
    add_values: AbstractMapping[str, tuple[str, ...]] = field(default_factory=dict)
    delete_values: AbstractMapping[str, tuple[str, ...]] = field(default_factory=dict)
    reason: Reason = Reason.NONE

    @property
    def is_destructive(self) -> bool:
        """Return whether this change deletes or disables an entry."""
        return self.op is Op.DELETE or (self.op is Op.RENAME and self.reason is Reason.DISABLE)

    def to_dict(self) -> dict[str, object]:
        """Return this change as plain data for reports."""
        data: dict[str, object] = {"op": self.op.value, "dn": self.dn}
        if self.key:
            data["key"] = self.key
        if self.new_dn:
            data["new_dn"] = self.new_dn
        if self.reason:
            data["reason"] = self.reason.value
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
    managed: int = 0

    def counts(self) -> dict[str, int]:
        """Return the number of changes per operation."""
        return dict(Counter(change.op.value for change in self.changes))

    def destructive(self) -> list[Change]:
        """Return the changes that delete or disable an entry."""
        return [change for change in self.changes if change.is_destructive]


def disabled_since(entry: Entry, mapping: Mapping) -> datetime | None:
    """Return when a managed entry was disabled, or None when it is active."""
    marker = mapping.identity_prefix + DISABLED_TAG
    for value in entry.attributes.get(mapping.identity_attribute, ()):
        if value.startswith(marker):
            try:
                since = datetime.fromisoformat(value[len(marker) :])
            except ValueError:
                continue
            return since if since.tzinfo else since.replace(tzinfo=UTC)
    return None


def _markers(entry: Entry, mapping: Mapping) -> tuple[str, ...]:
    marker = mapping.identity_prefix + DISABLED_TAG
    values = entry.attributes.get(mapping.identity_attribute, ())
    return tuple(value for value in values if value.startswith(marker))


def make_plan(
    desired: Desired,
    current: Iterable[Entry],
    existing_containers: Iterable[str],
    mapping: Mapping,
    quarantine: Quarantine,
    *,
    now: datetime | None = None,
    retention: timedelta = DEFAULT_RETENTION,
) -> Plan:
    """Return the changes that turn the current directory into the desired one."""
    planner = _Planner(desired, mapping, quarantine, now or datetime.now(UTC), retention)
    planner.index(current)
    planner.containers(existing_containers)
    for key, want in desired.entries.items():
        if not quarantine.protects(key):
            planner.converge(want)
    for key, have in planner.by_key.items():
        if key not in desired.entries and not quarantine.blocks_deletion(key):
            planner.retire(have)
    return Plan(planner.ordered(), tuple(planner.errors), managed=len(planner.by_key))


class _Planner:
    def __init__(
        self,
        desired: Desired,
        mapping: Mapping,
        quarantine: Quarantine,
        now: datetime,
        retention: timedelta,
    ) -> None:
        self.desired = desired
        self.mapping = mapping
        self.quarantine = quarantine
        self.now = now
        self.retention = retention
        self.by_key: dict[str, Entry] = {}
        self.errors: list[RecordError] = []
        self.changes: list[Change] = []
        self.protected_members: set[str] = set()
        self.disabled_base = (
            dnlib.normalize_dn(desired.disabled_base) if desired.disabled_base else ""
        )

    def index(self, current: Iterable[Entry]) -> None:
        for entry in current:
            other = self.by_key.get(entry.key)
            if other is not None:
                self.errors.append(
                    RecordError(
                        entry.key, f"two entries carry this identity: {other.dn} and {entry.dn}"
                    )
                )
                self.quarantine.keys.add(entry.key)
                continue
            self.by_key[entry.key] = entry
        self.protected_members = {
            dnlib.normalize_dn(entry.dn)
            for entry in self.by_key.values()
            if self.quarantine.protects(entry.key)
        }

    def containers(self, existing: Iterable[str]) -> None:
        known = {dnlib.normalize_dn(dn) for dn in existing}
        for container in self.desired.containers:
            if dnlib.normalize_dn(container) not in known:
                attribute, value = dnlib.split_dn(container)[0]
                self.changes.append(
                    Change(
                        Op.ADD_CONTAINER,
                        container,
                        object_classes=self.mapping.container_classes,
                        replace={attribute.lower(): (value,)},
                    )
                )

    def _in_disabled_ou(self, dn: str) -> bool:
        return bool(self.disabled_base) and dnlib.normalize_dn(dnlib.parent_dn(dn)) == (
            self.disabled_base
        )

    def converge(self, want: Entry) -> None:
        """Add, rename, restore or modify one desired entry."""
        kind_mapping = self.mapping.kinds[want.kind]
        have = self.by_key.get(want.key)
        if have is None:
            attributes = {name: values for name, values in want.attributes.items() if values}
            self.changes.append(
                Change(
                    Op.ADD,
                    want.dn,
                    want.key,
                    object_classes=kind_mapping.object_classes,
                    replace=attributes,
                )
            )
            return
        markers = _markers(have, self.mapping)
        restoring = bool(markers) or self._in_disabled_ou(have.dn)
        reason = Reason.RESTORE if restoring else Reason.NONE
        if _needs_rename(have.dn, want.dn):
            self.changes.append(Change(Op.RENAME, have.dn, want.key, new_dn=want.dn, reason=reason))
        modify = _modify(have, want, kind_mapping, self.mapping, self.protected_members)
        if markers:
            identity = self.mapping.identity_attribute
            modify = replace(
                modify or Change(Op.MODIFY, want.dn, want.key),
                delete_values={**(modify.delete_values if modify else {}), identity: markers},
            )
        if modify is not None:
            self.changes.append(replace(modify, reason=reason))

    def retire(self, have: Entry) -> None:
        """Disable, keep or delete one entry that left the source."""
        if not have.kind.is_user:
            self.changes.append(Change(Op.DELETE, have.dn, have.key, reason=Reason.LEFT_SOURCE))
            return
        since = disabled_since(have, self.mapping)
        if since is not None and self.now - since >= self.retention:
            self.changes.append(
                Change(Op.DELETE, have.dn, have.key, reason=Reason.RETENTION_EXPIRED)
            )
            return
        if since is None:
            stamp = self.now.astimezone(UTC).isoformat(timespec="seconds")
            marker = f"{self.mapping.identity_prefix}{DISABLED_TAG}{stamp}"
            self.changes.append(
                Change(
                    Op.MODIFY,
                    have.dn,
                    have.key,
                    add_values={self.mapping.identity_attribute: (marker,)},
                    replace=self.mapping.kinds[have.kind].render_disabled(),
                    reason=Reason.DISABLE,
                )
            )
        if not self._in_disabled_ou(have.dn):
            target = f"{dnlib.leaf_rdn(have.dn)},{self.desired.disabled_base}"
            self.changes.append(
                Change(Op.RENAME, have.dn, have.key, new_dn=target, reason=Reason.DISABLE)
            )

    def ordered(self) -> tuple[Change, ...]:
        """Return the changes in an order the directory accepts."""
        targets = {
            dnlib.normalize_dn(change.new_dn or change.dn)
            for change in self.changes
            if change.op in (Op.ADD, Op.RENAME)
        }
        phases: dict[int, list[Change]] = {}
        renames: list[Change] = []
        for change in self.changes:
            if change.op is Op.RENAME:
                renames.append(change)
                continue
            if change.op is Op.DELETE and dnlib.normalize_dn(change.dn) in targets:
                change = replace(change, reason=Reason.MAKE_ROOM)
            phases.setdefault(_phase(change), []).append(change)
        phases[3] = _order_renames(
            renames, {dnlib.normalize_dn(e.dn) for e in self.by_key.values()}
        )
        return tuple(change for phase in sorted(phases) for change in phases[phase])


def _phase(change: Change) -> int:
    """Return the position of a change among the plan's phases.

    0 containers, 1 deletes that free a DN wanted by an add or rename,
    2 disable markers, 3 renames, 4 users, 5 groups, 6 group deletes,
    7 user deletes.
    """
    if change.op is Op.ADD_CONTAINER:
        return 0
    if change.reason is Reason.MAKE_ROOM:
        return 1
    if change.reason is Reason.DISABLE:
        return 2
    is_group = change.key is not None and key_kind(change.key).is_group
    if change.op in (Op.ADD, Op.MODIFY):
        return 5 if is_group else 4
    return 6 if is_group else 7


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


def _needs_rename(have: str, want: str) -> bool:
    """Return whether an entry must move: another parent, or an RDN value spelt otherwise."""
    if dnlib.normalize_dn(have) != dnlib.normalize_dn(want):
        return True
    return dnlib.split_dn(have)[0][1] != dnlib.split_dn(want)[0][1]


def _modify(
    have: Entry,
    want: Entry,
    kind_mapping: KindMapping,
    mapping: Mapping,
    protected_members: set[str],
) -> Change | None:
    """Return the attribute-level modify from `have` to `want`, or None when equal."""
    replace_values: Attributes = {}
    add_values: Attributes = {}
    delete_values: Attributes = {}
    members = kind_mapping.members
    for name, values in want.attributes.items():
        if name in (mapping.identity_attribute, kind_mapping.rdn):
            continue
        current = have.attributes.get(name, ())
        if name == members:
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
        if members not in change.replace:
            return change
        kept = keep(change.replace[members])
        return replace(change, replace={**change.replace, members: kept}) if kept else None
    added = keep(change.add_values.get(members, ()))
    add_values = {name: values for name, values in change.add_values.items() if name != members}
    if added:
        add_values[members] = added
    if not (change.replace or add_values or change.delete_values):
        return None
    return replace(change, add_values=add_values)
