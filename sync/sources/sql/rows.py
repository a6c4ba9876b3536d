"""Rows of the SQL queries, joined by id into the source document's nested shape.

The document nests what SQL keeps in tables of their own (a customer's
persons, a person's contact types and account, a user's roles). Rows are
joined to their parent by id, compared without regard to case as the
source format does. A row whose parent does not exist is a record error
naming it; the rows are otherwise passed on as they are, so that every
value goes through the document's own validation and quarantine.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sync.core.entry import EntryKey, Kind
from sync.core.model import FORMAT_VERSION
from sync.core.problems import Quarantine, RecordError

Row = dict[str, Any]

_TWO_ACCOUNTS = "two account rows"
"""What a person with two accounts holds instead: the model refuses it, the person is kept."""


def plain(columns: Sequence[str], values: Sequence[Any]) -> Row:
    """Return a row as a record: NULLs left out (the field's default applies), numbers plain."""
    return {
        column: _number(value) if type(value) is Decimal else value
        for column, value in zip(columns, values, strict=True)
        if value is not None
    }


def _number(value: Decimal) -> int | float:
    """Return a NUMERIC as the int or float the source format would hold."""
    return int(value) if value == value.to_integral_value() else float(value)


def _key(value: Any) -> str | None:
    """Return the join key of an id: its text without regard to case, None when it has none."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value)
    return text.casefold() if text else None


@dataclass
class Joined:
    """The document assembled from the rows, and the rows that joined nothing."""

    data: dict[str, Any]
    errors: list[RecordError] = field(default_factory=list)
    quarantine: Quarantine = field(default_factory=Quarantine)


def join(rows: Mapping[str, Iterable[Row]]) -> Joined:
    """Return the source document the rows of every query make, joined by id."""
    customers = [dict(row) for row in rows["customers"]]
    users = [dict(row) for row in rows["internal_users"]]
    joined = Joined(
        {
            "format_version": FORMAT_VERSION,
            "internal_users": users,
            "customers": customers,
            "orders": [dict(row) for row in rows["orders"]],
        }
    )
    by_customer = _index(customers)
    for customer in customers:
        customer["contact_types"] = []
        customer["persons"] = []
    for row in rows["contact_types"]:
        parent = by_customer.get(_key(row.pop("customer", None)) or "")
        if parent is None:
            joined.errors.append(
                RecordError(f"contact type {row.get('id')}", "its customer does not exist")
            )
        else:
            parent["contact_types"].append(row)
    persons: list[Row] = []
    for row in rows["persons"]:
        customer_id = row.pop("customer", None)
        parent = by_customer.get(_key(customer_id) or "")
        if parent is None:
            joined.errors.append(
                RecordError(
                    f"person {row.get('id')}",
                    f"customer: the customer {customer_id!r} does not exist; "
                    "its entry is kept as it is",
                )
            )
            _protect(joined.quarantine, row.get("id"))
            continue
        row["contact_types"] = []
        parent["persons"].append(row)
        persons.append(row)
    by_person = _index(persons)
    for row in rows["person_contact_types"]:
        person = by_person.get(_key(row.get("person")) or "")
        if person is None:
            joined.errors.append(_orphan("contact type", row.get("person")))
        else:
            person["contact_types"].append(row.get("contact_type"))
    for row in rows["accounts"]:
        person = by_person.get(_key(row.pop("person", None)) or "")
        if person is None:
            joined.errors.append(
                RecordError(f"account {row.get('login')}", "its person does not exist")
            )
        elif "account" in person:
            joined.errors.append(
                RecordError(
                    f"person {person.get('id')}",
                    "accounts: two account rows; a person has at most one portal account",
                )
            )
            person["account"] = _TWO_ACCOUNTS
        else:
            person["account"] = row
    by_user = _index(users)
    for user in users:
        user["groups"] = []
    for row in rows["roles"]:
        owner = by_user.get(_key(row.get("internal_user")) or "")
        if owner is None:
            joined.errors.append(
                RecordError(
                    f"role {row.get('role')}",
                    f"its internal user {row.get('internal_user')!r} does not exist",
                )
            )
        else:
            owner["groups"].append(row.get("role"))
    return joined


def _index(records: list[Row]) -> dict[str, Row]:
    """Return the records by join key; the first of two with one id wins (both get reported)."""
    index: dict[str, Row] = {}
    for record in records:
        key = _key(record.get("id"))
        if key is not None:
            index.setdefault(key, record)
    return index


def _orphan(what: str, person: Any) -> RecordError:
    return RecordError(f"{what} of person {person}", "the person does not exist")


def _protect(quarantine: Quarantine, person_id: Any) -> None:
    """Keep the entry of a person that could not be read as it is."""
    key = _key(person_id)
    if key is None:
        quarantine.kinds.add(Kind.EXTERNAL.value)
    else:
        quarantine.keys.add(EntryKey.of(Kind.EXTERNAL, str(person_id)))
