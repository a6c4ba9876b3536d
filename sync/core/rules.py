"""The business rules between records, applied after each record has read on its own.

Every violation becomes a RecordError naming the record and the rule, and
quarantines the entries of the records involved; the rest of the structure
carries on.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from sync.core.entry import EntryKey, Kind
from sync.core.model import BUILTIN_CONTACT_TYPE, Customer, Document, InternalUser, Order, Person
from sync.core.problems import Quarantine, RecordError
from sync.core.references import canonical


@dataclass(frozen=True)
class ExternalUser:
    """A contact person's portal account, with the customer it belongs to."""

    person: Person
    customer: Customer
    login: str
    enabled: bool


@dataclass(frozen=True)
class Structure:
    """The records that passed every rule; the input of the desired-state builder."""

    internal_users: tuple[InternalUser, ...]
    customers: dict[str, Customer]
    external_users: tuple[ExternalUser, ...]
    orders: tuple[Order, ...]


def apply_rules(document: Document, quarantine: Quarantine) -> tuple[Structure, list[RecordError]]:
    """Return the structure of the records that pass every rule, and the violations."""
    document = canonical(document)
    errors: list[RecordError] = []
    internal = _unique_by_id(
        document.internal_users, "internal user", Kind.INTERNAL, errors, quarantine
    )
    customers = _unique_by_id(document.customers, "customer", Kind.CUSTOMER, errors, quarantine)
    kept_ids = {id(customer) for customer in customers}
    for customer in document.customers:
        if id(customer) not in kept_ids:
            quarantine.broken_customers.add(customer.id)
            _quarantine_persons(customer, quarantine)
    persons = _valid_persons(customers, errors, quarantine)
    internal, persons = _unique_logins(internal, persons, errors, quarantine)
    orders = _valid_orders(document, customers, errors, quarantine)
    external = tuple(
        ExternalUser(person, customer, person.account.login, person.account.enabled)
        for person, customer in persons
        if person.account is not None
    )
    structure = Structure(
        internal_users=tuple(internal),
        customers={customer.id: customer for customer in customers},
        external_users=external,
        orders=tuple(orders),
    )
    return structure, errors


R = TypeVar("R", InternalUser, Customer)


def _unique_by_id(
    records: Iterable[R], label: str, kind: Kind, errors: list[RecordError], quarantine: Quarantine
) -> list[R]:
    """Return the records whose id is unique; report every claimant of a shared id."""
    claimants: dict[str, list[R]] = defaultdict(list)
    for record in records:
        claimants[record.id.casefold()].append(record)
    kept: list[R] = []
    for same in claimants.values():
        if len(same) == 1:
            kept.append(same[0])
            continue
        for record in same:
            errors.append(RecordError(f"{label} {record.id}", f"{len(same)} records share this id"))
            quarantine.keys.add(EntryKey.of(kind, record.id))
    return kept


def _quarantine_persons(customer: Customer, quarantine: Quarantine) -> None:
    for person in customer.persons:
        quarantine.keys.add(EntryKey.of(Kind.EXTERNAL, person.id))


def _valid_persons(
    customers: list[Customer], errors: list[RecordError], quarantine: Quarantine
) -> list[tuple[Person, Customer]]:
    """Return the persons that respect the contact-type and identity rules."""
    seen: dict[str, list[tuple[Person, Customer]]] = defaultdict(list)
    for customer in customers:
        for person in customer.persons:
            seen[person.id.casefold()].append((person, customer))
    kept: list[tuple[Person, Customer]] = []
    for claimants in seen.values():
        if len(claimants) > 1:
            for person, customer in claimants:
                errors.append(
                    RecordError(
                        f"person {person.id} of customer {customer.id}",
                        f"{len(claimants)} persons share this id",
                    )
                )
                quarantine.keys.add(EntryKey.of(Kind.EXTERNAL, person.id))
            continue
        kept.extend(claimants)
    result: list[tuple[Person, Customer]] = []
    for person, customer in kept:
        problem = _person_problem(person, customer)
        if problem:
            errors.append(RecordError(f"person {person.id} of customer {customer.id}", problem))
            quarantine.keys.add(EntryKey.of(Kind.EXTERNAL, person.id))
        else:
            result.append((person, customer))
    return result


def _person_problem(person: Person, customer: Customer) -> str | None:
    known = {contact_type.id for contact_type in customer.contact_types}
    known.add(BUILTIN_CONTACT_TYPE)
    unknown = sorted(set(person.contact_types) - known)
    if unknown:
        return f"contact type(s) {', '.join(unknown)} do not exist in customer {customer.id}"
    if BUILTIN_CONTACT_TYPE in person.contact_types:
        holders = [p.id for p in customer.persons if BUILTIN_CONTACT_TYPE in p.contact_types]
        if len(holders) > 1:
            return (
                f"the built-in contact type '{BUILTIN_CONTACT_TYPE}' holds {len(holders)} persons "
                f"({', '.join(holders)}); it holds at most one"
            )
    return None


def _unique_logins(
    internal: list[InternalUser],
    persons: list[tuple[Person, Customer]],
    errors: list[RecordError],
    quarantine: Quarantine,
) -> tuple[list[InternalUser], list[tuple[Person, Customer]]]:
    """Drop every claimant of a login used twice (case-insensitive) and report each.

    A login is claimed by the accounts that would hold it in the directory
    and could log in with it: enabled internal users, and enabled accounts
    of customers with remote access. A disabled account, or one of a
    customer without remote access, claims nothing: its login is free. A
    record already in error claims nothing either; if its entry still holds
    the login, the planner finds that collision against the directory.
    """
    owners: dict[str, list[str]] = defaultdict(list)
    for user in internal:
        if user.enabled:
            owners[user.login.casefold()].append(f"internal user {user.id}")
    for person, customer in persons:
        login = _claimed_login(person, customer)
        if login is not None:
            owners[login.casefold()].append(f"person {person.id} of customer {customer.id}")
    shared = {login: names for login, names in owners.items() if len(names) > 1}

    def claims(login: str, own: str) -> bool:
        if login.casefold() not in shared:
            return False
        others = [name for name in shared[login.casefold()] if name != own]
        errors.append(RecordError(own, f"login '{login}' is also claimed by {', '.join(others)}"))
        return True

    kept_internal = []
    for user in internal:
        if user.enabled and claims(user.login, f"internal user {user.id}"):
            quarantine.keys.add(EntryKey.of(Kind.INTERNAL, user.id))
        else:
            kept_internal.append(user)
    kept_persons = []
    for person, customer in persons:
        login = _claimed_login(person, customer)
        if login is not None and claims(login, f"person {person.id} of customer {customer.id}"):
            quarantine.keys.add(EntryKey.of(Kind.EXTERNAL, person.id))
        else:
            kept_persons.append((person, customer))
    return kept_internal, kept_persons


def _claimed_login(person: Person, customer: Customer) -> str | None:
    """Return the login a person's account would hold (enabled, with remote access), or None."""
    account = person.account
    if account is None or not account.enabled or not customer.remote_access:
        return None
    return account.login


def _valid_orders(
    document: Document,
    customers: list[Customer],
    errors: list[RecordError],
    quarantine: Quarantine,
) -> list[Order]:
    """Return the orders whose customer and agency exist; an agency must be flagged one."""
    by_id = {customer.id: customer for customer in customers}
    counts: dict[str, int] = defaultdict(int)
    for order in document.orders:
        counts[order.id.casefold()] += 1
    kept: list[Order] = []
    for order in document.orders:
        problem: str | None = None
        agency = by_id.get(order.agency) if order.agency is not None else None
        if counts[order.id.casefold()] > 1:
            problem = f"{counts[order.id.casefold()]} orders share this id"
        elif order.customer in quarantine.broken_customers:
            problem = f"its customer {order.customer} is not valid (see its error)"
        elif order.customer not in by_id:
            problem = f"customer {order.customer} does not exist"
        elif order.agency is not None and order.agency in quarantine.broken_customers:
            problem = f"its agency {order.agency} is not valid (see its error)"
        elif order.agency is not None and agency is None:
            problem = f"agency {order.agency} does not exist"
        elif agency is not None and not agency.agency:
            problem = f"customer {order.agency} is not flagged as an agency"
        if problem:
            errors.append(RecordError(f"order {order.id}", problem))
            quarantine.keys.add(EntryKey.of(Kind.ORDER, order.id))
        else:
            kept.append(order)
    return kept
