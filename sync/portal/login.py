"""Log a portal user in and decide which orders they may open, the way a portal does.

The flow is the usual search+bind: find the user's DN with the portal's
service account, bind as that DN with the password, then read the user's
group memberships with the service account. Every answer comes from the
directory; `sync.portal.access` compares them with the source rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum

from sync.core import dn as dnlib
from sync.core.entry import EntryKey, Kind
from sync.core.mapping import Mapping
from sync.core.plan import DISABLED_TAG
from sync.errors import SyncError
from sync.ldap.connection import password_accepted
from sync.ldap.directory import Directory
from sync.ldap.flavour import load_mapping
from sync.settings import LdapSettings, Settings


class Relation(StrEnum):
    """How a member of an order group relates to the order."""

    CUSTOMER = "customer"
    AGENCY = "agency"
    OTHER = "other"
    UNKNOWN = "unknown"
    """The mapping keeps no customer on order groups: why cannot be told."""


class EntryState(StrEnum):
    """What a DN leads to, for a portal."""

    ACTIVE = "active"
    DISABLED = "disabled"
    MISSING = "no such entry"


@dataclass(frozen=True)
class Holder:
    """The user entry at a DN: its identity key (None when not portal-sync's) and state."""

    dn: str
    key: str | None
    state: EntryState

    @property
    def login(self) -> str:
        """Return the login the entry is named by."""
        return dnlib.split_dn(self.dn)[0][1]


class LoginRefused(SyncError):
    """Unknown login, ambiguous login or wrong password; the message never says which."""


@dataclass(frozen=True)
class Grant:
    """One order a user may open, and why."""

    order_id: str
    group_dn: str
    customer_id: str
    agency_id: str | None
    relation: Relation

    @property
    def via_agency(self) -> bool:
        """Return whether the user may open the order as a user of its agency."""
        return self.relation is Relation.AGENCY

    @property
    def reason(self) -> str:
        """Return why the user may open the order, in words."""
        if self.relation is Relation.AGENCY:
            return f"agency {self.agency_id} for customer {self.customer_id}"
        if self.relation is Relation.CUSTOMER:
            return f"own customer {self.customer_id}"
        if self.relation is Relation.UNKNOWN:
            return "member of the group (the mapping keeps no customer on order groups)"
        return (
            f"member of the group, but a user of neither customer {self.customer_id} nor its agency"
        )


@dataclass(frozen=True)
class PortalUser:
    """A user as the portal sees them after the directory answered."""

    login: str
    dn: str
    kind: Kind
    customers: tuple[str, ...]
    groups: tuple[str, ...]
    grants: tuple[Grant, ...]

    @property
    def orders(self) -> frozenset[str]:
        """Return the IDs of the orders the user may open."""
        return frozenset(grant.order_id for grant in self.grants)


def portal_ldap(settings: Settings) -> LdapSettings:
    """Return the connection settings with the portal's service account (or the sync's)."""
    if not settings.portal.bind_dn:
        return settings.ldap
    return settings.ldap.model_copy(
        update={"bind_dn": settings.portal.bind_dn, "bind_password": settings.portal.bind_password}
    ).named(
        {
            "bind_dn": settings.portal.name_of("bind_dn"),
            "bind_password": settings.portal.name_of("bind_password"),
        }
    )


class Portal:
    """Questions a portal asks the directory, asked with the portal's service account."""

    def __init__(self, settings: Settings, directory: Directory, mapping: Mapping) -> None:
        self.settings = settings
        self.directory = directory
        self.mapping = mapping

    @classmethod
    @contextmanager
    def open(cls, settings: Settings) -> Iterator[Portal]:
        """Yield a portal bound with its service account."""
        mapping = load_mapping(settings.mapping.path, settings.mapping.values)
        with Directory.open(portal_ldap(settings)) as directory:
            yield cls(settings, directory, mapping)

    def _base(self, kind: Kind) -> str:
        return self.settings.tree.base(kind)

    def _source_id(self, attributes: dict[str, tuple[str, ...]], kind: Kind) -> str | None:
        for value in attributes.get(self.mapping.identity_attribute, ()):
            key = self.mapping.key_of(value)
            if key is not None and EntryKey.kind(key) is kind:
                return EntryKey.source_id(key)
        return None

    def _login_query(self, kind: Kind, login: str) -> str:
        naming = self.mapping.kinds[kind].rdn
        classes = "".join(
            f"(objectClass={dnlib.escape_filter_value(c)})"
            for c in self.mapping.kinds[kind].object_classes
        )
        return f"(&{classes}({naming}={dnlib.escape_filter_value(login)}))"

    def candidates(self, login: str) -> list[tuple[str, Kind]]:
        """Return the DN and kind of every user the portal finds for this login."""
        found: list[tuple[str, Kind]] = []
        for kind in (Kind.INTERNAL, Kind.EXTERNAL):
            query = self._login_query(kind, login)
            found += [
                (dn, kind) for dn, _ in self.directory.search(self._base(kind), query, ("1.1",))
            ]
        return found

    def find(self, login: str) -> tuple[str, Kind]:
        """Return the DN and kind of the user with this login; LoginRefused unless exactly one."""
        found = self.candidates(login)
        if len(found) != 1:
            raise LoginRefused(f"login {login!r} refused")
        return found[0]

    def login_holders(self, login: str) -> list[Holder]:
        """Return every user entry below the base DN that holds this login, whoever's it is."""
        identity = self.mapping.identity_attribute
        queries = dict.fromkeys(self._login_query(kind, login) for kind in Kind if kind.is_user)
        query = next(iter(queries)) if len(queries) == 1 else f"(|{''.join(queries)})"
        return [
            self._holder(dn, attributes)
            for dn, attributes in self.directory.search(
                self.settings.tree.base_dn, query, (identity,)
            )
        ]

    def user(self, login: str) -> PortalUser:
        """Return what the directory says about a user, without checking a password."""
        dn, kind = self.find(login)
        return self.user_at(login, dn, kind)

    def user_at(self, login: str, dn: str, kind: Kind) -> PortalUser:
        """Return the user at `dn` with their groups and the orders they may open."""
        customers: list[str] = []
        groups: list[str] = []
        grants: list[Grant] = []
        identity = self.mapping.identity_attribute
        for group_kind in (Kind.CUSTOMER, Kind.ROLE, Kind.ORDER):
            members = self.mapping.kinds[group_kind].members
            query = f"({members}={dnlib.escape_filter_value(dn)})"
            order = (self.mapping.order_customer, self.mapping.order_agency)
            wanted = (identity, *(name for name in order if name))
            for group_dn, attributes in self.directory.search(
                self._base(group_kind), query, wanted
            ):
                source_id = self._source_id(attributes, group_kind)
                if source_id is None:
                    continue
                groups.append(group_dn)
                if group_kind is Kind.CUSTOMER:
                    customers.append(source_id)
                elif group_kind is Kind.ORDER:
                    grants.append(_grant(source_id, group_dn, attributes, customers, self.mapping))
        return PortalUser(login, dn, kind, tuple(customers), tuple(groups), tuple(grants))

    def authenticate(self, login: str, password: str) -> PortalUser:
        """Return the user when the directory accepts the password; LoginRefused otherwise."""
        dn, kind = self.find(login)
        if not password_accepted(self.settings.ldap, dn, password):
            raise LoginRefused(f"login {login!r} refused")
        return self.user_at(login, dn, kind)

    def holder(self, dn: str) -> Holder:
        """Return what the user entry at `dn` is: whose, and whether it may log in."""
        if _below(dn, self.settings.tree.disabled):
            return Holder(dn, None, EntryState.DISABLED)
        identity = self.mapping.identity_attribute
        found = [
            attributes
            for found_dn, attributes in self.directory.search(dn, "(objectClass=*)", (identity,))
            if dnlib.normalize_dn(found_dn) == dnlib.normalize_dn(dn)
        ]
        if not found:
            return Holder(dn, None, EntryState.MISSING)
        return self._holder(dn, found[0])

    def holders_at(self, dns: Iterable[str]) -> list[Holder]:
        """Return what the user entry at each of these DNs is, as `holder` does, in order.

        The entries below the users' OUs are read in a few searches (by the
        value of their RDN, 200 to a filter) rather than one per DN: an order
        group of a busy agency names hundreds. Any other DN is read on its own.
        """
        dns = list(dns)
        disabled = self.settings.tree.disabled
        bases = [self._base(Kind.INTERNAL), self._base(Kind.EXTERNAL)]
        wanted: dict[str, set[str]] = {}
        for dn in dns:
            if not _below(dn, disabled) and any(_below(dn, base) for base in bases):
                name, value = dnlib.split_dn(dn)[0]
                wanted.setdefault(name.lower(), set()).add(value)
        identity = self.mapping.identity_attribute
        read: dict[str, Holder] = {}
        for name, values in wanted.items():
            for found_dn, attributes in self.directory.read_holding(
                bases, name, values, (identity,)
            ):
                read[dnlib.normalize_dn(found_dn)] = self._holder(found_dn, attributes)
        holders = []
        for dn in dns:
            if _below(dn, disabled) or not any(_below(dn, base) for base in bases):
                holders.append(self.holder(dn))
                continue
            known = read.get(dnlib.normalize_dn(dn))
            holders.append(
                Holder(dn, known.key, known.state)
                if known
                else Holder(dn, None, EntryState.MISSING)
            )
        return holders

    def _holder(self, dn: str, attributes: dict[str, tuple[str, ...]]) -> Holder:
        values = attributes.get(self.mapping.identity_attribute, ())
        marker = self.mapping.identity_prefix + DISABLED_TAG
        disabled = any(value.startswith(marker) for value in values)
        state = EntryState.DISABLED if disabled else EntryState.ACTIVE
        return Holder(dn, self.mapping.key_in(attributes), state)

    def holders_of(self, keys: Iterable[str]) -> dict[str, Holder]:
        """Return the user entries carrying these identity keys, by key."""
        bases = [self._base(Kind.INTERNAL), self._base(Kind.EXTERNAL)]
        identity = self.mapping.identity_attribute
        values = [self.mapping.identity_value(key) for key in keys]
        found: dict[str, Holder] = {}
        for dn, attributes in self.directory.read_identities(bases, identity, values, (identity,)):
            holder = self._holder(dn, attributes)
            if holder.key is not None:
                found[holder.key] = holder
        return found

    def group_exists(self, key: str) -> bool:
        """Return whether the managed group with this key exists."""
        identity = self.mapping.identity_attribute
        query = f"({identity}={dnlib.escape_filter_value(self.mapping.identity_value(key))})"
        return bool(self.directory.search(self._base(EntryKey.kind(key)), query, ("1.1",)))

    def order_group(self, order_id: str) -> tuple[str, tuple[str, ...]] | None:
        """Return the order group's DN and member values, or None when there is no group."""
        identity = self.mapping.identity_value(EntryKey.of(Kind.ORDER, order_id))
        query = f"({self.mapping.identity_attribute}={dnlib.escape_filter_value(identity)})"
        members = self.mapping.kinds[Kind.ORDER].members
        assert members is not None
        found = self.directory.search(self._base(Kind.ORDER), query, (members,))
        if not found:
            return None
        group_dn, attributes = found[0]
        return group_dn, attributes.get(members, ())

    def order_members(self, order_id: str) -> tuple[str, tuple[PortalUser, ...]] | None:
        """Return the order group's DN and every user who may open the order, or None."""
        answer = self.order_group(order_id)
        if answer is None:
            return None
        group_dn, values = answer
        users = []
        for member in values:
            if dnlib.normalize_dn(member) == dnlib.normalize_dn(group_dn):
                continue
            login = dnlib.split_dn(member)[0][1]
            kind = Kind.INTERNAL if _below(member, self._base(Kind.INTERNAL)) else Kind.EXTERNAL
            users.append(self.user_at(login, member, kind))
        return group_dn, tuple(users)


def _below(dn: str, base: str) -> bool:
    return dnlib.normalize_dn(dn).endswith("," + dnlib.normalize_dn(base))


def _grant(
    order_id: str,
    group_dn: str,
    attributes: dict[str, tuple[str, ...]],
    customers: list[str],
    mapping: Mapping,
) -> Grant:
    customer_attribute, agency_attribute = mapping.order_customer, mapping.order_agency
    customer = next(iter(attributes.get(customer_attribute or "", ())), "")
    agency = next(iter(attributes.get(agency_attribute or "", ())), None)
    if customer_attribute is None:
        relation = Relation.UNKNOWN
    elif customer in customers:
        relation = Relation.CUSTOMER
    elif agency is not None and agency in customers:
        relation = Relation.AGENCY
    else:
        relation = Relation.OTHER
    return Grant(order_id, group_dn, customer, agency, relation)


def authenticate(settings: Settings, login: str, password: str) -> PortalUser:
    """Return the user with this login when the password is right; raise LoginRefused if not."""
    with Portal.open(settings) as portal:
        return portal.authenticate(login, password)


def can_open(user: PortalUser, order_id: str) -> bool:
    """Return whether the user may open the order."""
    return order_id in user.orders
