"""What the directory holds of the managed entries, as far as a run reads it."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sync.core.desired import Desired
from sync.core.digest import moving_dns
from sync.core.entry import Entry, EntryKey, Kind
from sync.core.mapping import Mapping
from sync.ldap.directory import Directory
from sync.ldap.flavour import unique_id_attribute
from sync.progress import Progress
from sync.run.prepare import Prepared
from sync.settings import Settings


@dataclass(frozen=True)
class Current:
    """The managed entries a run read, the OUs that exist, and the keys it plans."""

    entries: list[Entry]
    containers: list[str]
    """The OUs of the layout that exist."""
    scope: set[str] | None
    """The keys to plan (an incremental run), or None for every key."""

    def gone(self, desired: Desired) -> dict[str, Entry]:
        """Return the entries read that the source no longer wants, by key."""
        return {entry.key: entry for entry in self.entries if entry.key not in desired.entries}


def read_directory(
    directory: Directory,
    settings: Settings,
    prepared: Prepared,
    keys: Collection[str] | None = None,
    progress: Progress | None = None,
) -> Current:
    """Return what the directory holds of the prepared desired state.

    With `keys` (an incremental run), read only the entries with these keys,
    and the groups whose members name a DN an entry leaves or gets in this run.
    """
    current = read_current(directory, settings, prepared.mapping, keys, progress, unique_ids=True)
    scope = None
    if keys is not None:
        dns = moving_dns(prepared.desired, keys, current)
        found = groups_naming(directory, settings, prepared.mapping, dns)
        known = {entry.key for entry in current}
        current += [entry for entry in found if entry.key not in known]
        scope = {*keys, *(entry.key for entry in found)}
    existing = [dn for dn in prepared.desired.containers if directory.exists(dn)]
    return Current(current, existing, scope)


def read_current(
    directory: Directory,
    settings: Settings,
    mapping: Mapping,
    keys: Collection[str] | None = None,
    progress: Progress | None = None,
    *,
    unique_ids: bool = False,
) -> list[Entry]:
    """Return every entry in the managed subtrees that carries this service's identity.

    With `keys`, return only the entries carrying one of these keys. With
    `unique_ids` each entry holds its unique ID too, as a run needs it to
    tell its own entries from copies (`sync.core.ownership`).
    """
    progress = progress or Progress()
    progress.stage("reading the directory", len(keys) if keys is not None else None)
    bases = settings.tree.managed()
    entries = []
    attributes_read = mapping.attributes_read()
    if unique_ids:
        attributes_read = (*attributes_read, unique_id_attribute(mapping))
    found = (
        directory.read_managed(
            bases, mapping.identity_attribute, mapping.identity_prefix, attributes_read
        )
        if keys is None
        else directory.read_identities(
            bases,
            mapping.identity_attribute,
            [mapping.identity_value(key) for key in keys],
            attributes_read,
        )
    )
    for dn, attributes in found:
        progress.advance()
        key = mapping.key_in(attributes)
        if key is not None:
            entries.append(Entry(key, dn, attributes))
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
            [base], members, dns, (*mapping.attributes_read(), unique_id_attribute(mapping))
        ):
            key = mapping.key_in(attributes)
            if key is not None and EntryKey.kind(key) is kind:
                found.append(Entry(key, dn, attributes))
    return found
