"""The parts of a source, and a part that came back empty: a broken export of it (pure).

A source is read in parts: the customers, their persons, the persons'
accounts and contact types, the staff, their roles, the orders (a query
each in SQL, a list in the document). When a part that fed entries comes
back empty, the export of that part broke: the persons did not all leave
at once. Such a part deletes, disables and withdraws nothing: the kinds of
entry it feeds keep what they have (`Quarantine.kinds`), and every
membership that depends on it is unknown, so it is kept as it is
(`sync.core.grants.Grants.unknown_kinds`).

A SQL query that returns no rows is such a part at once (`sync.sources.sql.reader`).
A part of the document counts when it is empty while the parts above it
are not and the directory holds more entries it fed than the deletion
guard's floor (`safety.ratio_floor`, 10): a shop that never had an order
has no broken order export, and a small directory changes freely.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sync.core.entry import EntryKey, Kind
from sync.core.problems import Quarantine, RecordError

_CUSTOMER_SIDE = (Kind.CUSTOMER.value, Kind.EXTERNAL.value, Kind.ORDER.value)
_PERSON_SIDE = (Kind.EXTERNAL.value, Kind.CUSTOMER.value, Kind.ORDER.value)
_STAFF_SIDE = (Kind.INTERNAL.value, Kind.ROLE.value)


@dataclass(frozen=True)
class Part:
    """What one part of the source feeds: the kinds it keeps, the memberships it makes unknown."""

    kept: tuple[str, ...]
    """Kinds of entry nothing of which is deleted or disabled while the part is empty."""
    unknown: tuple[str, ...]
    """Kinds of entry whose every membership is unknown (kept as it is) while it is empty."""
    counted: str
    """The kind of entry that tells how much of the directory the part fed."""


_EXTERNAL = Kind.EXTERNAL.value
PARTS: dict[str, Part] = {
    "customers": Part(_CUSTOMER_SIDE, _CUSTOMER_SIDE, _EXTERNAL),
    "contact_types": Part(_PERSON_SIDE, (_EXTERNAL,), _EXTERNAL),
    "persons": Part(_PERSON_SIDE, (_EXTERNAL,), _EXTERNAL),
    "person_contact_types": Part(_PERSON_SIDE, (_EXTERNAL,), _EXTERNAL),
    "accounts": Part(_PERSON_SIDE, (_EXTERNAL,), _EXTERNAL),
    "internal_users": Part(_STAFF_SIDE, _STAFF_SIDE, Kind.INTERNAL.value),
    "roles": Part((Kind.ROLE.value,), (Kind.ROLE.value,), Kind.ROLE.value),
    "orders": Part((Kind.ORDER.value,), (Kind.ORDER.value,), Kind.ORDER.value),
}
"""Every part of a source by name (the SQL queries' names), and what it feeds."""


EMPTY_IN_DOCUMENT = {
    "customers": "the document holds no customer",
    "persons": "no customer of the document holds a person",
    "accounts": "no person of the document holds an account",
    "orders": "the document holds no order",
    "internal_users": "the document holds no internal user",
    "roles": "no internal user of the document holds a role",
}
"""How each part of the document `empty_parts` finds empty is missing, in words."""


def protect(quarantine: Quarantine, names: Iterable[str]) -> None:
    """Suspend deletions of, and every membership through, the kinds these empty parts feed."""
    for name in names:
        quarantine.kinds.update(PARTS[name].kept)
        quarantine.unknown_kinds.update(PARTS[name].unknown)


def empty_parts(data: Any) -> list[str]:
    """Return the parts of a parsed source document that are empty below parts that are not.

    Only parts that have a part above them count (persons below customers,
    accounts below persons...): a document with no customer and no staff
    at all is the broken export `sync.run.prepare` reports itself.
    """
    document = data if isinstance(data, dict) else {}
    customers = list(_dicts(document.get("customers")))
    staff = list(_dicts(document.get("internal_users")))
    if not customers and not staff:
        return []
    persons = [person for customer in customers for person in _dicts(customer.get("persons"))]
    empty = []
    if not customers:
        empty.append("customers")
    if customers and not persons:
        empty.append("persons")
    if persons and not any(isinstance(p.get("account"), dict) for p in persons):
        empty.append("accounts")
    if customers and not list(_dicts(document.get("orders"))):
        empty.append("orders")
    if not staff:
        empty.append("internal_users")
    if staff and not any(user.get("groups") for user in staff):
        empty.append("roles")
    return empty


def vanished(
    parts: Iterable[str], held: Iterable[str], floor: int, already: Iterable[str] = ()
) -> list[str]:
    """Return the empty parts that fed more than `floor` entries the directory holds.

    `held` are the keys of the entries the directory holds; a part fed the
    entries of its `counted` kind (the external users for the accounts...).
    Below the floor a small directory changes freely, as the deletion guard
    lets it (`safety.ratio_floor`). Parts whose kinds are all `already` kept
    (a query that returned no rows) are left out.
    """
    counts = Counter(EntryKey.kind(key).value for key in held)
    kept = set(already)
    return [
        name
        for name in parts
        if not set(PARTS[name].kept) <= kept and counts[PARTS[name].counted] > floor
    ]


def broken_part(name: str, record: str, why: str) -> RecordError:
    """Return the record error that reports the empty part `name` as a broken export."""
    return RecordError(
        record,
        f"{why}: read as a broken export, no entry of its kinds ({', '.join(PARTS[name].kept)}) "
        "is deleted or disabled and no membership is withdrawn",
    )


def _dicts(value: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, dict))
