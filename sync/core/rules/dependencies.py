"""The records a verdict depends on, followed through the shop's indexes (pure).

A verdict reads more than its own record: a person's customer (its remote
access, its contact types, whether its id is unique), the other persons of
that customer (the built-in contact type), the records sharing its id, and
every record claiming its login together with what decides their claim; an
order's customer and agency, their persons, and the orders sharing its id;
a role's staff. `depends` returns them all as entry keys, so that a change
to any other record leaves the verdict as it is (checked by
`tests/core/test_verdicts_property.py`). A change is followed in the shop
before it and in the shop after it: a record that takes a login joins its
claimants only in the second.
"""

from __future__ import annotations

from sync.core.entry import EntryKey, Kind
from sync.core.rules.shop import Record, Shop


def depends(shop: Shop, key: str) -> set[str]:
    """Return the keys of the records the verdict of `key` depends on (itself included)."""
    kind = EntryKey.kind(key)
    fold = EntryKey.source_id(key).casefold()
    found = {key}
    if kind is Kind.ROLE:
        for user in shop.role_holders.get(fold, []):
            found |= shop.keys(shop.namesakes(user))
        return found
    for record in shop.by_fold(kind, fold):
        if record.key != key:
            continue
        if kind is Kind.EXTERNAL:
            found |= _person(shop, record) | _login(shop, record)
        elif kind is Kind.INTERNAL:
            found |= shop.keys(shop.namesakes(record)) | _login(shop, record)
        elif kind is Kind.CUSTOMER:
            found |= _customer(shop, record.rid or "")
        else:
            found |= shop.keys(shop.namesakes(record))
            for ref in record.refs:
                if ref is not None:
                    found |= _customer(shop, ref)
    return found


def _customer(shop: Shop, cid: str) -> set[str]:
    """A customer's records (any case), their persons and the persons sharing those ids."""
    found: set[str] = set()
    for customer in shop.by_fold(Kind.CUSTOMER, cid.casefold()):
        found |= shop.keys([customer])
        for person in customer.persons:
            found |= shop.keys(shop.namesakes(person))
    return found


def _person(shop: Shop, person: Record) -> set[str]:
    """What decides whether a person passes the rules before the login rule."""
    found: set[str] = set()
    for same in shop.namesakes(person):
        found |= shop.keys([same])
        customer = same.customer
        if customer is None:
            continue
        found |= shop.keys(customer.persons)
        if customer.rid is not None:
            found |= shop.keys(shop.by_fold(Kind.CUSTOMER, customer.fold))
    return found


def _login(shop: Shop, record: Record) -> set[str]:
    """The records claiming a record's login, and what decides their claims."""
    model = record.model
    if model is None:
        return set()
    login = model.login if record.kind is Kind.INTERNAL else getattr(model.account, "login", None)
    found: set[str] = set()
    for other in shop.logins.get(login.casefold(), []) if login else []:
        if other.kind is Kind.INTERNAL:
            found |= shop.keys(shop.namesakes(other))
        else:
            found |= _person(shop, other)
    return found
