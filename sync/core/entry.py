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
        """Return whether entries of this kind are groups."""
        return self in (Kind.CUSTOMER, Kind.ORDER, Kind.ROLE)

    @property
    def is_user(self) -> bool:
        """Return whether entries of this kind are user accounts (disabled before deleted)."""
        return not self.is_group


_KINDS = frozenset(kind.value for kind in Kind)
_LABELS = {
    Kind.INTERNAL: "internal user",
    Kind.EXTERNAL: "person",
    Kind.CUSTOMER: "customer",
    Kind.ORDER: "order",
    Kind.ROLE: "role",
}


class EntryKey(str):
    """The stable key of the entry for one source record: `kind:source id`.

    A key is text: the identity attribute holds it after the mapping's
    prefix, and the state files store it. So a key is a str, and any text of
    that form can be read as one (`EntryKey(text).kind`); this class is the
    one place that builds a key or takes one apart.
    """

    __slots__ = ()

    @classmethod
    def of(cls, kind: Kind, source_id: str) -> EntryKey:
        """Return the key of the entry for the record `source_id` of this kind."""
        return cls(f"{kind.value}:{source_id}")

    @classmethod
    def parse(cls, text: str) -> EntryKey | None:
        """Return the key in `text`, or None when it names no kind of entry the service keeps."""
        kind, colon, _ = text.partition(":")
        return cls(text) if colon and kind in _KINDS else None

    @property
    def kind(self) -> Kind:
        """Return the kind of entry this key names."""
        return Kind(self.partition(":")[0])

    @property
    def source_id(self) -> str:
        """Return the id of the source record behind this key."""
        return self.partition(":")[2]

    @property
    def label(self) -> str:
        """Return the record behind this key in words ("person P-1", "order _2026_001")."""
        return f"{_LABELS[self.kind]} {self.source_id}"


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
        return EntryKey(self.key).kind
