"""A readable picture of the managed part of a directory (pure)."""

from __future__ import annotations

from collections.abc import Iterable

from sync.core import dn as dnlib
from sync.core.entry import Entry, Kind
from sync.core.mapping import Mapping

_TITLES = {
    Kind.INTERNAL: "Internal users",
    Kind.EXTERNAL: "External users",
    Kind.CUSTOMER: "Customer groups",
    Kind.ORDER: "Order groups",
    Kind.ROLE: "Internal role groups",
}


def describe_tree(entries: Iterable[Entry], mapping: Mapping) -> str:
    """Return the users and group memberships of managed entries as text."""
    by_kind: dict[Kind, list[Entry]] = {kind: [] for kind in Kind}
    for entry in entries:
        by_kind[entry.kind].append(entry)
    names = {dnlib.normalize_dn(e.dn): dnlib.split_dn(e.dn)[0][1] for e in by_kind[Kind.INTERNAL]}
    names.update(
        {dnlib.normalize_dn(e.dn): dnlib.split_dn(e.dn)[0][1] for e in by_kind[Kind.EXTERNAL]}
    )
    lines: list[str] = []
    for kind in Kind:
        found = sorted(by_kind[kind], key=lambda e: dnlib.normalize_dn(e.dn))
        if not found:
            continue
        parent = dnlib.parent_dn(found[0].dn)
        lines.append(f"{_TITLES[kind]} ({len(found)}) in {parent}")
        members = mapping.kinds[kind].members
        for entry in found:
            label = dnlib.split_dn(entry.dn)[0][1]
            if members:
                who = sorted(
                    names.get(dnlib.normalize_dn(m), m) for m in entry.attributes.get(members, ())
                )
                lines.append(f"  {label}: {', '.join(who)}")
            else:
                cn = ", ".join(entry.attributes.get("cn", ()))
                org = ", ".join(entry.attributes.get("o", ()))
                lines.append(f"  {label}  ({cn}{'; ' + org if org else ''})")
    return "\n".join(lines)
