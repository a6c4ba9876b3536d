"""One rule for ids: compared without regard to case, references included (pure).

Two records whose ids differ only in case are duplicates (sync.core.rules), so a
reference that differs only in case from an id names that record: a person's
contact type "Achats" is the customer's contact type "achats", an order's
customer "abc-1" is the customer "ABC-1". References are rewritten to the
exact spelling of the id they name before the rules run; an exact match wins
over one that differs in case. The built-in contact type is `customer` in
any case ("Customer", "CUSTOMER").
"""

from __future__ import annotations

from collections.abc import Iterable

from sync.core.model import BUILTIN_CONTACT_TYPE, Customer, Document, Order, Person


def _spellings(ids: Iterable[str]) -> dict[str, str]:
    """Return {casefolded id: its first spelling}."""
    found: dict[str, str] = {}
    for value in ids:
        found.setdefault(value.casefold(), value)
    return found


def _resolved(value: str, exact: set[str], folded: dict[str, str]) -> str:
    return value if value in exact else folded.get(value.casefold(), value)


def canonical(document: Document) -> Document:
    """Return the document with every reference spelled as the id it names."""
    customer_ids = {customer.id for customer in document.customers}
    customer_folded = _spellings(customer_ids)
    customers = [_customer(customer) for customer in document.customers]
    orders = [_order(order, customer_ids, customer_folded) for order in document.orders]
    if all(a is b for a, b in zip(customers, document.customers, strict=True)) and all(
        a is b for a, b in zip(orders, document.orders, strict=True)
    ):
        return document
    return document.model_copy(update={"customers": customers, "orders": orders})


def _customer(customer: Customer) -> Customer:
    builtin = BUILTIN_CONTACT_TYPE.casefold()
    types = [
        contact_type.model_copy(update={"id": BUILTIN_CONTACT_TYPE})
        if contact_type.id.casefold() == builtin and contact_type.id != BUILTIN_CONTACT_TYPE
        else contact_type
        for contact_type in customer.contact_types
    ]
    type_ids = {contact_type.id for contact_type in types}
    type_ids.add(BUILTIN_CONTACT_TYPE)
    folded = _spellings([BUILTIN_CONTACT_TYPE, *sorted(type_ids)])
    persons = [_person(person, type_ids, folded) for person in customer.persons]
    unchanged = all(a is b for a, b in zip(types, customer.contact_types, strict=True))
    if unchanged and all(a is b for a, b in zip(persons, customer.persons, strict=True)):
        return customer
    return customer.model_copy(update={"contact_types": types, "persons": persons})


def _person(person: Person, exact: set[str], folded: dict[str, str]) -> Person:
    if all(value in exact for value in person.contact_types):
        return person
    resolved = [_resolved(value, exact, folded) for value in person.contact_types]
    return person.model_copy(update={"contact_types": resolved})


def _order(order: Order, exact: set[str], folded: dict[str, str]) -> Order:
    customer = _resolved(order.customer, exact, folded)
    agency = _resolved(order.agency, exact, folded) if order.agency is not None else None
    if customer == order.customer and agency == order.agency:
        return order
    return order.model_copy(update={"customer": customer, "agency": agency})
