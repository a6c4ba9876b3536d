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


def entry_key(kind: Kind, source_id: str) -> str:
    """Return the stable key of the entry for one source record."""
    return f"{kind.value}:{source_id}"


def key_kind(key: str) -> Kind:
    """Return the kind named in a key."""
    return Kind(key.split(":", 1)[0])


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
        return key_kind(self.key)


_LABELS = {
    Kind.INTERNAL: "internal user",
    Kind.EXTERNAL: "person",
    Kind.CUSTOMER: "customer",
    Kind.ORDER: "order",
    Kind.ROLE: "role",
}


def record_label(key: str) -> str:
    """Return the record behind a key in words ("person P-1", "order _2026_001")."""
    return f"{_LABELS[key_kind(key)]} {key.split(':', 1)[1]}"
