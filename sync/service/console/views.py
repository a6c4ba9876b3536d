"""What each console page shows, gathered from the daemon, the directory and the source.

The answers are those of `sync.portal` (who may open what and why, drift
against the source rules) and of the rules' own decisions (why a record has
no entry); this module only puts them side by side for one page. Values
are plain data: the templates escape every one of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from sync.core import dn as dnlib
from sync.core.decisions import Why
from sync.core.entry import Entry, EntryKey, Kind
from sync.core.mapping import Mapping
from sync.core.model import Customer, Order
from sync.core.plan import disabled_since
from sync.ldap.directory import Directory
from sync.portal.access import Drift, compare_order, compare_user
from sync.portal.login import Grant, LoginRefused, Portal, PortalUser
from sync.service.console.snapshot import Snapshot
from sync.service.health import Health
from sync.service.history import History
from sync.settings import Settings


@dataclass(frozen=True)
class Feed:
    """What the daemon tells the console, and the one thing the console may ask of it."""

    health: Callable[[], Health]
    history: History
    request: Callable[[str], None]
    """Ask for a run, the same path as POST /sync."""
    next_run: Callable[[], datetime | None]
    running: Callable[[], bool]


_PAGES = {Kind.CUSTOMER: "/customers/", Kind.ORDER: "/orders/"}


def record_link(key: str | None, customer: str | None = None) -> str | None:
    """Return the console page of the record behind an entry key (a person's: its customer's)."""
    key = customer or key
    if key is None or EntryKey.parse(key) is None:
        return None
    prefix = _PAGES.get(EntryKey.kind(key))
    return prefix + quote(EntryKey.source_id(key), safe="") if prefix else None


@dataclass(frozen=True)
class Overview:
    """The overview page."""

    health: Health
    running: bool
    next_run: datetime | None
    runs: list[dict[str, Any]]
    managed: dict[str, int]
    errors: list[tuple[str, str, str | None]]


def overview(feed: Feed, runs: int = 10) -> Overview:
    """Return the overview: health, the last runs, the next run, the last run's record errors."""
    reports = list(reversed(feed.history.reports(runs)))
    last = reports[0] if reports else {}
    errors = [
        (e["record"], e["problem"], record_link(e.get("key"), e.get("customer")))
        for e in last.get("errors", [])
    ]
    return Overview(
        feed.health(),
        feed.running(),
        feed.next_run(),
        reports,
        dict(last.get("managed", {})),
        errors,
    )


@dataclass(frozen=True)
class Disabled:
    """A user entry in the disabled OU: since when, and until when it is kept."""

    dn: str
    since: datetime | None
    until: datetime | None


@dataclass(frozen=True)
class UserPage:
    """A user page: what the directory says, and whether it agrees with the rules."""

    login: str
    user: PortalUser | None
    grants: list[Grant]
    drift: Drift
    disabled: list[Disabled]
    source: list[str] = field(default_factory=list)


def user_page(portal: Portal, snapshot: Snapshot, login: str, disabled: list[Disabled]) -> UserPage:
    """Return what the console shows about one login; `disabled` from `disabled_entries`."""
    try:
        user: PortalUser | None = portal.user(login)
    except LoginRefused:
        user = None
    grants = sorted(user.grants, key=lambda g: g.order_id) if user else []
    difference = compare_user(portal, snapshot.prepared.desired, login, user)
    return UserPage(login, user, grants, difference, disabled, source_records(snapshot, login))


def disabled_entries(
    directory: Directory, settings: Settings, mapping: Mapping, login: str
) -> list[Disabled]:
    """Return the entries in the disabled OU named by this login, with their dates.

    The disabled OU is the sync account's alone (config/slapd/acl.ldif, rule
    7): the portal account sees nothing there, so the daemon reads it with
    its own account, and only reads.
    """
    identity = mapping.identity_attribute
    retention = timedelta(days=settings.safety.retention_days)
    found: dict[str, Disabled] = {}
    for kind in (Kind.INTERNAL, Kind.EXTERNAL):
        query = f"({mapping.kinds[kind].rdn}={dnlib.escape_filter_value(login)})"
        for dn, attributes in directory.search(settings.tree.disabled, query, (identity,)):
            entry = Entry("", dn, {identity: tuple(attributes.get(identity, ()))})
            since = disabled_since(entry, mapping)
            found[dn] = Disabled(dn, since, since + retention if since else None)
    return list(found.values())


def source_records(snapshot: Snapshot, login: str) -> list[str]:
    """Return the source records that hold this login, in words."""
    found = []
    wanted = login.casefold()
    for internal in snapshot.document.internal_users:
        if internal.login.casefold() == wanted:
            state = "enabled" if internal.enabled else "disabled"
            found.append(
                f"internal user {internal.id}, groups: {', '.join(internal.groups)}, {state}"
            )
    for customer in snapshot.document.customers:
        for person in customer.persons:
            if person.account and person.account.login.casefold() == wanted:
                state = "enabled" if person.account.enabled else "disabled"
                found.append(
                    f"person {person.id} of customer {customer.id} ({customer.name}), "
                    f"account {state}"
                )
    return found


@dataclass(frozen=True)
class Match:
    """A user found by login or name."""

    login: str
    name: str
    where: str


def find_users(snapshot: Snapshot, text: str, limit: int = 50) -> list[Match]:
    """Return the source's users whose login or name contains `text` (case-insensitive)."""
    wanted = text.casefold().strip()
    if not wanted:
        return []
    found: list[Match] = []
    for internal in snapshot.document.internal_users:
        name = f"{internal.first_name} {internal.last_name}".strip()
        if wanted in internal.login.casefold() or wanted in name.casefold():
            found.append(Match(internal.login, name, "internal"))
    for customer in snapshot.document.customers:
        for person in customer.persons:
            if person.account is None:
                continue
            name = f"{person.first_name} {person.last_name}".strip()
            if wanted in person.account.login.casefold() or wanted in name.casefold():
                found.append(Match(person.account.login, name, f"{customer.name} ({customer.id})"))
    return found[:limit]


@dataclass(frozen=True)
class Member:
    """One user who may open an order, and why."""

    login: str
    kind: str
    reason: str


@dataclass(frozen=True)
class OrderPage:
    """An order page: who may open it and why, or why nobody outside the shop may."""

    order_id: str
    order: Order | None
    customer: Customer | None
    agency: Customer | None
    group_dn: str | None
    members: list[Member]
    no_group: list[str]
    errors: list[str]
    drift: Drift


def order_page(portal: Portal, snapshot: Snapshot, order_id: str) -> OrderPage:
    """Return what the console shows about one order."""
    order = snapshot.order(order_id)
    customer = snapshot.customer(order.customer) if order else None
    agency = snapshot.customer(order.agency) if order and order.agency else None
    answer = portal.order_members(order_id)
    members: list[Member] = []
    group_dn = None
    no_group: list[str] = []
    key = EntryKey.of(Kind.ORDER, order_id)
    errors = snapshot.errors_for(key)
    if answer is not None:
        group_dn, users = answer
        for user in sorted(users, key=lambda u: u.login):
            reason = next((g.reason for g in user.grants if g.order_id == order_id), "member")
            members.append(Member(user.login, user.kind.value, reason))
    else:
        no_group = snapshot.decisions_for(key)
        if order is not None and customer is not None:
            no_group.extend(
                f"customer {customer.id} has no remote access: none of its persons has a user"
                for d in snapshot.decided(EntryKey.of(Kind.CUSTOMER, customer.id))
                if d.why is Why.NO_REMOTE_ACCESS
            )
        if order is None:
            no_group.append("the source has no order with this ID")
        if errors:
            no_group.append("its record has an error (below): no group is made for it")
        if not no_group:
            no_group.append("no group in the directory yet; the next run makes it")
    difference = compare_order(portal, snapshot.prepared.desired, order_id)
    return OrderPage(
        order_id, order, customer, agency, group_dn, members, no_group, errors, difference
    )


@dataclass(frozen=True)
class Person:
    """A contact person of a customer as the console lists them."""

    person_id: str
    first_name: str
    last_name: str
    contact_types: list[str]
    login: str | None
    enabled: bool


@dataclass(frozen=True)
class CustomerPage:
    """A customer page: contact types and persons, agency flag, orders and their agencies."""

    customer: Customer
    group_dn: str | None
    contact_types: list[tuple[str, list[Person]]]
    persons: list[Person]
    orders: list[tuple[Order, Customer | None]]
    agency_for: list[tuple[Order, Customer | None]]
    left_out: list[str]
    errors: list[str]


def customer_page(portal: Portal, snapshot: Snapshot, customer: Customer) -> CustomerPage:
    """Return what the console shows about one customer."""
    type_names = {t.id: t.name or t.id for t in customer.contact_types}
    persons = [
        Person(
            p.id,
            p.first_name,
            p.last_name,
            [type_names.get(t, t) for t in p.contact_types],
            p.account.login if p.account else None,
            bool(p.account and p.account.enabled),
        )
        for p in customer.persons
    ]
    by_type = [
        (
            t.name or t.id,
            [
                p
                for p, raw in zip(persons, customer.persons, strict=True)
                if t.id in raw.contact_types
            ],
        )
        for t in customer.contact_types
    ]
    orders = [
        (o, snapshot.customer(o.agency) if o.agency else None)
        for o in snapshot.document.orders
        if o.customer == customer.id
    ]
    agency_for = [
        (o, snapshot.customer(o.customer))
        for o in snapshot.document.orders
        if o.agency == customer.id
    ]
    key = EntryKey.of(Kind.CUSTOMER, customer.id)
    group_dn = _group_dn(portal, key)
    left_out = [
        str(d)
        for d in snapshot.prepared.decisions
        if d.key is not None and key in (d.key, snapshot.owner(d.key))
    ]
    errors = [
        f"{e.record}: {e.problem}" for e in snapshot.prepared.errors if key in (e.key, e.owner)
    ]
    return CustomerPage(customer, group_dn, by_type, persons, orders, agency_for, left_out, errors)


def _group_dn(portal: Portal, key: str) -> str | None:
    mapping = portal.mapping
    query = (
        f"({mapping.identity_attribute}={dnlib.escape_filter_value(mapping.identity_value(key))})"
    )
    found = portal.directory.search(portal.settings.tree.base(EntryKey.kind(key)), query, ("1.1",))
    return found[0][0] if found else None
