"""Directory entries as the core sees them: a stable key, a DN, attributes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """The kinds of entry the service manages, each matched by its own source record."""

    INTERNAL = "internal"
    EXTERNAL = "external"
    CUSTOMER = "customer"
    ORDER = "order"
    ROLE = "role"

    @property
    def is_group(self) -> bool:
        """Return whether entries of this kind are groups.

        Asked millions of times a run at size M: a set of plain strings
        answers it without looking up the members of the enumeration.
        """
        return self in _GROUP_KINDS

    @property
    def is_user(self) -> bool:
        """Return whether entries of this kind are user accounts (disabled before deleted)."""
        return self not in _GROUP_KINDS


_GROUP_KINDS = frozenset({Kind.CUSTOMER.value, Kind.ORDER.value, Kind.ROLE.value})


_KIND_OF = {kind.value: kind for kind in Kind}
_PREFIX = {kind: f"{kind.value}:" for kind in Kind}
_LABELS = {
    Kind.INTERNAL: "internal user",
    Kind.EXTERNAL: "person",
    Kind.CUSTOMER: "customer",
    Kind.ORDER: "order",
    Kind.ROLE: "role",
}


class EntryKey:
    """The stable key of the entry for one source record: the text `kind:source id`.

    A key is text wherever it is kept: after the mapping's prefix in the
    entry's identity attribute, in the state files, in every dict of a run.
    So keys are plain str (an object per key would cost memory and garbage
    collection by the hundred thousand), and this class is the one place
    that builds a key or takes one apart.
    """

    __slots__ = ()

    @staticmethod
    def of(kind: Kind, source_id: str) -> str:
        """Return the key of the entry for the record `source_id` of this kind."""
        return _PREFIX[kind] + source_id

    @staticmethod
    def parse(text: str) -> str | None:
        """Return `text` when it is a key, or None when it names no kind of entry kept here."""
        kind, colon, _ = text.partition(":")
        return text if colon and kind in _KIND_OF else None

    @staticmethod
    def kind(key: str) -> Kind:
        """Return the kind of entry a key names; ValueError when it names none."""
        try:
            return _KIND_OF[key.partition(":")[0]]
        except KeyError:
            raise ValueError(f"{key!r} is no key of a kind of entry") from None

    @staticmethod
    def source_id(key: str) -> str:
        """Return the id of the source record behind a key."""
        return key.partition(":")[2]

    @staticmethod
    def label(key: str) -> str:
        """Return the record behind a key in words ("person P-1", "order _2026_001")."""
        return f"{_LABELS[EntryKey.kind(key)]} {EntryKey.source_id(key)}"


Attributes = dict[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Entry:
    """One managed entry; attribute names are lower case, values in source order."""

    key: str
    dn: str
    attributes: Attributes

    @property
    def kind(self) -> Kind:
        """Return the kind of this entry."""
        return EntryKey.kind(self.key)
