"""The entries the directory should hold, built from the verdicts (pure)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sync.core import dn as dnlib
from sync.core.entry import Entry, EntryKey, Kind
from sync.core.grants import Grants
from sync.core.mapping import FIELDS, Mapping, Template
from sync.core.problems import Problem, Quarantine, RecordError
from sync.core.rules import Verdicts
from sync.core.tree import Tree


@dataclass
class Desired:
    """Every entry the directory should hold, with the containers they need."""

    entries: dict[str, Entry]
    containers: tuple[str, ...]
    errors: list[RecordError] = field(default_factory=list)
    disabled_base: str = ""
    records: dict[str, str] = field(default_factory=dict)
    """The source record behind each key, as reports name it ("person P-1 of customer 10001")."""
    grants: Grants = field(default_factory=Grants)
    """Who the source lets into which group, by key, bad records included."""

    def held(self, group: str) -> tuple[str, ...]:
        """Return the members a group is granted that have no desired entry (bad records)."""
        return tuple(sorted(k for k in self.grants.members.get(group, ()) if k not in self.entries))


def build_desired(
    verdicts: Verdicts,
    tree: Tree,
    mapping: Mapping,
    quarantine: Quarantine,
    grants: Grants,
) -> Desired:
    """Return the entries the directory should hold: those the verdicts want.

    Users come from the records that passed the rules; group memberships come
    from `grants`, which also names members whose record is in error but
    still supported. A group nobody is in is left out unless some of its
    memberships cannot be told.
    """
    builder = _Builder(tree, mapping, quarantine)
    templates = {
        Kind.CUSTOMER: tree.layout.customer_group_name,
        Kind.ORDER: tree.layout.order_group_name,
        Kind.ROLE: tree.layout.role_group_name,
    }
    for verdict in verdicts:
        if not verdict.wants:
            continue
        values = verdicts.values(verdict)
        kind, source_id = verdict.source.kind, verdict.source.rid or ""
        if kind.is_user:
            builder.add_user(kind, source_id, verdict.record, values)
        else:
            builder.add_group(kind, source_id, verdict.record, templates[kind], values, grants)
    return Desired(
        builder.finish(),
        tree.containers(),
        builder.errors,
        disabled_base=tree.disabled,
        records=builder.records,
        grants=grants,
    )


class _Builder:
    """Collects entries, refusing two records that would share one DN."""

    def __init__(self, tree: Tree, mapping: Mapping, quarantine: Quarantine):
        self.bases = {kind: tree.base(kind) for kind in Kind}
        layout = tree.layout
        self.mapping = mapping
        self.quarantine = quarantine
        self.entries: dict[str, Entry] = {}
        self.records: dict[str, str] = {}
        self.by_dn: dict[str, list[str]] = {}
        self.collisions: set[str] = set()
        self.errors: list[RecordError] = []
        self._positions: dict[str, int] | None = None
        self.group_names = {
            Kind.CUSTOMER: Template(
                layout.customer_group_name, FIELDS[Kind.CUSTOMER], "layout.customer_group_name"
            ),
            Kind.ORDER: Template(
                layout.order_group_name, FIELDS[Kind.ORDER], "layout.order_group_name"
            ),
            Kind.ROLE: Template(
                layout.role_group_name, FIELDS[Kind.ROLE], "layout.role_group_name"
            ),
        }

    def add_user(self, kind: Kind, source_id: str, record: str, context: dict[str, str]) -> None:
        self._add(kind, source_id, record, context, ())

    def add_group(
        self,
        kind: Kind,
        source_id: str,
        record: str,
        template: str,
        context: dict[str, str],
        grants: Grants,
    ) -> None:
        """Add a group when the source grants it a member or may keep the ones it has."""
        key = EntryKey.of(kind, source_id)
        granted = grants.members.get(key, ())
        if not granted and not grants.uncertain and key not in grants.unknown_groups:
            return
        self._resolve_collisions()
        position = self.positions()
        members = [
            entry.dn
            for entry in (self.entries.get(k) for k in sorted(granted, key=position))
            if entry is not None
        ]
        context = {**context, "group_name": self.group_names[kind].render(context)}
        self._add(kind, source_id, record, context, tuple(members))

    def positions(self) -> Callable[[str], tuple[int, str]]:
        """Return a sort key putting user keys in source order (unknown keys last).

        Users are all added before the first group, so their order is taken once.
        """
        if self._positions is None:
            self._positions = {key: index for index, key in enumerate(self.entries)}
        positions = self._positions
        return lambda key: (positions.get(key, len(positions)), key)

    def _add(
        self,
        kind: Kind,
        source_id: str,
        record: str,
        context: dict[str, str],
        members: tuple[str, ...],
    ) -> None:
        kind_mapping = self.mapping.kinds[kind]
        key = EntryKey.of(kind, source_id)
        attributes = kind_mapping.render(context)
        attributes[self.mapping.identity_attribute] = (self.mapping.identity_value(key),)
        if kind_mapping.members:
            attributes[kind_mapping.members] = members
        unfit = kind_mapping.unfit(attributes)
        if unfit is not None:
            self.errors.append(RecordError(record, unfit, key, why=Problem.ENTRY))
            self.quarantine.keys.add(key)
            return
        attributes = kind_mapping.fit(attributes)
        naming = attributes[kind_mapping.rdn]
        if not naming:
            self.errors.append(
                RecordError(record, f"its {kind_mapping.rdn} is empty", key, why=Problem.ENTRY)
            )
            self.quarantine.keys.add(key)
            return
        dn = f"{dnlib.rdn(kind_mapping.rdn, naming[0])},{self.bases[kind]}"
        self.entries[key] = Entry(key, dn, attributes)
        self.records[key] = record
        normalized = dnlib.normalize_dn(dn)
        claimants = self.by_dn.setdefault(normalized, [])
        claimants.append(key)
        if len(claimants) > 1:
            self.collisions.add(normalized)

    def _resolve_collisions(self) -> None:
        """Quarantine every record whose DN another record also wants (only new collisions)."""
        if not self.collisions:
            return
        for normalized in [n for n in self.by_dn if n in self.collisions]:
            keys = self.by_dn[normalized]
            if len(keys) < 2:
                continue
            dn = self.entries[keys[0]].dn
            for key in keys:
                others = ", ".join(self.records[k] for k in keys if k != key)
                self.errors.append(
                    RecordError(
                        self.records[key],
                        f"its DN {dn} is also wanted by {others}",
                        key,
                        why=Problem.ENTRY,
                    )
                )
                self.quarantine.keys.add(key)
                del self.entries[key]
            keys.clear()
        self.collisions.clear()

    def finish(self) -> dict[str, Entry]:
        self._resolve_collisions()
        return self.entries
