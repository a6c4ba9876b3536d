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
from sync.portal.login import Grant, LoginRefused, Portal, PortalUser, _grant
from sync.service.console.lists import SHORT
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


def record_link(
    key: str | None, customer: str | None = None, snapshot: Snapshot | None = None
) -> str | None:
    """Return the console page of the record behind an entry key (a person's: its customer's).

    An internal user's page is its login's; the snapshot says which login
    the record holds.
    """
    key = customer or key
    if key is None or EntryKey.parse(key) is None:
        return None
    kind = EntryKey.kind(key)
    if kind is Kind.INTERNAL and snapshot is not None:
        internal = snapshot.index.internal.get(EntryKey.source_id(key))
        return "/users/" + quote(internal.login, safe="") if internal else None
    prefix = _PAGES.get(kind)
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


def overview(feed: Feed, snapshot: Snapshot | None, runs: int = 10) -> Overview:
    """Return the overview: health, the last runs, the next run, the last run's record errors."""
    reports = list(reversed(feed.history.reports(runs)))
    last = reports[0] if reports else {}
    errors = [
        (e["record"], e["problem"], record_link(e.get("key"), e.get("customer"), snapshot))
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
class Group:
    """A group a user is in, and what it grants: an order, a customer's group or a role."""

    dn: str
    kind: str
    """"order", "customer", "role", or "" when the group is none of portal-sync's."""
    source_id: str
    customer: str | None = None
    """The order's customer."""


@dataclass(frozen=True)
class UserPage:
    """A user page: what the directory says, and whether it agrees with the rules."""

    login: str
    user: PortalUser | None
    grants: list[Grant]
    drift: Drift
    disabled: list[Disabled]
    source: list[str] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)

    @property
    def known(self) -> bool:
        """Return whether the directory or the source knows the login at all."""
        return bool(self.user or self.disabled or self.source or not self.drift.none)


def user_page(portal: Portal, snapshot: Snapshot, login: str, disabled: list[Disabled]) -> UserPage:
    """Return what the console shows about one login; `disabled` from `disabled_entries`."""
    try:
        user: PortalUser | None = portal.user(login)
    except LoginRefused:
        user = None
    grants = sorted(user.grants, key=lambda g: g.order_id) if user else []
    owners = snapshot.index.logins.get(login.casefold(), [])
    difference = compare_user(portal, snapshot.prepared.desired, login, user, owners)
    groups = groups_of(snapshot, user) if user else []
    return UserPage(
        login, user, grants, difference, disabled, source_records(snapshot, login), groups
    )


def groups_of(snapshot: Snapshot, user: PortalUser) -> list[Group]:
    """Return the user's groups by what they grant: orders, customers, roles, the rest.

    A grant names its group by the DN the same search returned, so orders
    are matched by that text; only the few other groups are normalized (a
    user of an agency may be in thousands of order groups).
    """
    orders = {g.group_dn: g for g in user.grants}
    found = []
    for dn in user.groups:
        grant = orders.get(dn)
        if grant is not None:
            found.append(Group(dn, "order", grant.order_id, grant.customer_id or None))
            continue
        key = snapshot.index.groups.get(dnlib.normalize_dn(dn))
        if key is not None:
            found.append(Group(dn, EntryKey.kind(key).value, EntryKey.source_id(key)))
        else:
            found.append(Group(dn, "", ""))
    rank = {"customer": 0, "order": 1, "role": 2}
    return sorted(found, key=lambda g: (rank.get(g.kind, 3), g.source_id, g.dn))


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
    users = snapshot.index.users.get(login.casefold(), [])
    for user in users:
        internal = user.internal
        if internal is not None:
            state = "enabled" if internal.enabled else "disabled"
            found.append(
                f"internal user {internal.id}, groups: {', '.join(internal.groups)}, {state}"
            )
    for user in users:
        customer = user.customer
        if customer is None:
            continue
        for person in customer.persons:
            if person.account and person.account.login == user.login:
                state = "enabled" if person.account.enabled else "disabled"
                found.append(
                    f"person {person.id} of customer {customer.id} ({customer.name}), "
                    f"account {state}"
                )
    return list(dict.fromkeys(found))


@dataclass(frozen=True)
class Member:
    """One user who may open an order, and why (None: a member without a grant of it)."""

    login: str
    kind: str
    grant: Grant | None


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
    refused: list[str] = field(default_factory=list)
    """What the directory answered when the last run wrote the order's group, in words."""

    @property
    def kept(self) -> list[Member]:
        """Return the members that are users of neither the customer nor its agency."""
        return [
            m for m in self.members if m.grant is not None and m.grant.relation.value == "other"
        ]

    @property
    def known(self) -> bool:
        """Return whether the source or the directory knows the order."""
        return self.order is not None or self.group_dn is not None


def order_members(portal: Portal, order_id: str) -> tuple[str, list[Member]] | None:
    """Return the order group's DN and its members with why each may open it, or None.

    Each member's customers are read from the customer groups that hold it
    (one search each), not from every group it is in: a user of an agency
    may be in thousands of order groups. Why follows from them by the
    portal's own rule (`sync.portal.login._grant`).
    """
    mapping = portal.mapping
    identity = mapping.identity_attribute
    members = mapping.kinds[Kind.ORDER].members
    customer_members = mapping.kinds[Kind.CUSTOMER].members
    assert members is not None and customer_members is not None
    wanted = (identity, members, *(a for a in (mapping.order_customer, mapping.order_agency) if a))
    value = mapping.identity_value(EntryKey.of(Kind.ORDER, order_id))
    query = f"({identity}={dnlib.escape_filter_value(value)})"
    tree = portal.settings.tree
    found = portal.directory.search(tree.base(Kind.ORDER), query, wanted)
    if not found:
        return None
    group_dn, attributes = found[0]
    internal = dnlib.normalize_dn(tree.base(Kind.INTERNAL))
    listed: list[Member] = []
    for member in attributes.get(members, ()):
        normal = dnlib.normalize_dn(member)
        if normal == dnlib.normalize_dn(group_dn):
            continue
        kind = Kind.INTERNAL if normal.endswith("," + internal) else Kind.EXTERNAL
        query = f"({customer_members}={dnlib.escape_filter_value(member)})"
        customers = [
            EntryKey.source_id(key)
            for _, found_attributes in portal.directory.search(
                tree.base(Kind.CUSTOMER), query, (identity,)
            )
            if (key := mapping.key_in(found_attributes)) is not None
            and EntryKey.kind(key) is Kind.CUSTOMER
        ]
        grant = _grant(order_id, group_dn, attributes, customers, mapping)
        listed.append(Member(dnlib.split_dn(member)[0][1], kind.value, grant))
    return group_dn, sorted(listed, key=lambda m: m.login)


def order_page(
    portal: Portal, snapshot: Snapshot, order_id: str, last_errors: list[dict[str, str]]
) -> OrderPage:
    """Return what the console shows about one order."""
    order = snapshot.order(order_id)
    customer = snapshot.customer(order.customer) if order else None
    agency = snapshot.customer(order.agency) if order and order.agency else None
    answer = order_members(portal, order_id)
    members: list[Member] = []
    group_dn = None
    no_group: list[str] = []
    key = EntryKey.of(Kind.ORDER, order_id)
    errors = snapshot.errors_for(key)
    record = snapshot.prepared.desired.records.get(key)
    refused = [
        e["problem"]
        for e in last_errors
        if e.get("key") == key or (record is not None and e.get("record") == record)
    ]
    refused = [p for p in dict.fromkeys(refused) if p not in errors]
    if answer is not None:
        group_dn, members = answer
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
        if refused:
            no_group.append("the directory refused the group in the last run (below)")
        if not no_group:
            no_group.append("no group in the directory yet; the next run makes it")
    difference = compare_order(portal, snapshot.prepared.desired, order_id)
    return OrderPage(
        order_id,
        order,
        customer,
        agency,
        group_dn,
        members,
        no_group,
        errors,
        difference,
        refused,
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
    order_count: int = 0
    agency_count: int = 0


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
    index = snapshot.index
    own = index.orders_of.get(customer.id, [])
    worked_on = index.agency_orders.get(customer.id, [])
    orders = [(o, snapshot.customer(o.agency) if o.agency else None) for o in own[:SHORT]]
    agency_for = [(o, snapshot.customer(o.customer)) for o in worked_on[:SHORT]]
    key = EntryKey.of(Kind.CUSTOMER, customer.id)
    group_dn = _group_dn(portal, key)
    left_out = [str(d) for d in index.owned.get(key, ())]
    errors = [f"{e.record}: {e.problem}" for e in index.errors.get(key, ())]
    return CustomerPage(
        customer,
        group_dn,
        by_type,
        persons,
        orders,
        agency_for,
        left_out,
        errors,
        len(own),
        len(worked_on),
    )


def _group_dn(portal: Portal, key: str) -> str | None:
    mapping = portal.mapping
    query = (
        f"({mapping.identity_attribute}={dnlib.escape_filter_value(mapping.identity_value(key))})"
    )
    found = portal.directory.search(portal.settings.tree.base(EntryKey.kind(key)), query, ("1.1",))
    return found[0][0] if found else None
