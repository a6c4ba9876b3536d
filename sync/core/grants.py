"""Who the source document lets into which group, by entry key (pure).

Entries are kept, grants are not: a record that fails validation keeps its
directory entry exactly as it is, but its memberships stay only while the
document still supports them. So memberships are read here from the
document itself, one field at a time, for valid and bad records alike: a
person whose last name is missing still says which customer it belongs to
and whether its account is enabled.

A (user, group) pair is granted, not granted, or unknown. It is unknown
when a field it depends on cannot be read (`"enabled": "maybe"`), when two
records share the id it depends on, when a record cannot be identified at
all, or when the whole document looks like a broken export: an unknown
membership is kept as it is, never added. A broken reference is not
unknown: an order whose customer or agency does not exist, or whose agency
is not flagged as one, grants nothing through it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from sync.core.entry import EntryKey, Kind
from sync.core.model import Identifier, Name


class AccessRules(BaseModel):
    """Choices a print shop may make about who may open an order."""

    model_config = ConfigDict(extra="forbid")

    agency_without_customer_access: bool = False
    """Let an agency's users open an order of a customer without remote access; default false."""


@dataclass(frozen=True)
class Grants:
    """The memberships the source document grants, and those it cannot tell."""

    members: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Group key -> the user keys it grants (orders of one customer and agency share one)."""
    unknown_users: frozenset[str] = frozenset()
    """User keys whose every membership is unknown (kept as it is)."""
    unknown_groups: frozenset[str] = frozenset()
    """Group keys whose every membership is unknown (kept as it is)."""
    named: frozenset[str] = frozenset()
    """Every key an identified record names."""
    suspended: frozenset[str] = frozenset()
    """Kinds with a record that cannot be identified: their unnamed keys are unknown."""
    unknown_all: bool = False
    """The document is a broken export: every membership is kept as it is."""
    unknown_kinds: frozenset[str] = frozenset()
    """Kinds fed by a part of the source that came back empty: their memberships are kept."""
    notes: Mapping[str, str] = field(default_factory=dict)
    """Group key -> why it grants less than its record asks (a broken reference...)."""
    role_names: Mapping[str, str] = field(default_factory=dict)
    """Role group key -> the role's name as the source spells it."""

    def grants(self, user: str, group: str) -> bool:
        """Return whether the source grants this user this group."""
        return user in self.members.get(group, ())

    def keeps(self, user: str, group: str) -> bool:
        """Return whether this membership is unknown: kept when present, never added."""
        return (
            self.keeps_all(group)
            or user in self.unknown_users
            or EntryKey.kind(user).value in self.unknown_kinds
            or _unnamed(user, self.named, self.suspended)
        )

    def keeps_all(self, group: str) -> bool:
        """Return whether every member of this group is unknown, even values naming no entry."""
        return (
            self.unknown_all
            or group in self.unknown_groups
            or EntryKey.kind(group).value in self.unknown_kinds
            or _unnamed(group, self.named, self.suspended)
        )

    @property
    def uncertain(self) -> bool:
        """Return whether any membership is unknown (a group may then keep members it lists)."""
        return bool(self.unknown_all or self.unknown_users or self.suspended or self.unknown_kinds)


def _unnamed(key: str, named: frozenset[str], suspended: frozenset[str]) -> bool:
    return EntryKey.kind(key) in suspended and key not in named


_BOOL = TypeAdapter(bool)
_ID = TypeAdapter(Identifier, config=ConfigDict(coerce_numbers_to_str=True))
_NAME = TypeAdapter(Name)


def _flag(record: Mapping[str, Any], name: str, default: bool) -> bool | None:
    """Return a boolean field as the model would read it, or None when it cannot be read."""
    if name not in record:
        return default
    value = record[name]
    if value is True or value is False:
        return value
    try:
        return _BOOL.validate_python(value)
    except ValidationError:
        return None


def _ident(value: Any) -> str | None:
    """Return an id as the model would read it, or None when it cannot be read."""
    plain = type(value) is str and 0 < len(value) <= 256 and value.isprintable()
    if plain and value == value.strip():
        return str(value)
    try:
        return _ID.validate_python(value)
    except ValidationError:
        return None


def _dicts(value: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, dict))


def _id_counts(records: Iterable[Mapping[str, Any]]) -> Counter[str]:
    """Return how many records claim each id, compared case-insensitively as the rules do."""
    ids = (_ident(record.get("id")) for record in records)
    return Counter(i.casefold() for i in ids if i is not None)


def _identified(
    records: list[Mapping[str, Any]],
) -> Iterator[tuple[str | None, Mapping[str, Any], bool]]:
    """Yield each record with its id (None when unreadable) and whether another shares it."""
    counts = _id_counts(records)
    for record in records:
        rid = _ident(record.get("id"))
        yield rid, record, rid is not None and counts[rid.casefold()] > 1


@dataclass
class _Customer:
    remote: bool | None
    agency: bool | None
    users: tuple[str, ...] = ()


@dataclass
class _Reader:
    """Collects what the document says, then the memberships it grants."""

    rules: AccessRules
    members: dict[str, tuple[str, ...]] = field(default_factory=dict)
    roles: defaultdict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    shared_members: dict[tuple[str, str | None], tuple[str, ...]] = field(default_factory=dict)
    """(customer, agency) -> the users of both, one tuple for every order that has them."""
    unknown_users: set[str] = field(default_factory=set)
    unknown_groups: set[str] = field(default_factory=set)
    named: set[str] = field(default_factory=set)
    notes: dict[str, str] = field(default_factory=dict)
    role_names: dict[str, str] = field(default_factory=dict)
    customers: dict[str, _Customer] = field(default_factory=dict)
    folded: dict[str, str] = field(default_factory=dict)
    """Casefolded customer id -> its first spelling: references match ids whatever the case."""

    def customer(self, cid: str) -> tuple[str, _Customer | None]:
        """Return the id a reference names (an exact spelling first) and its customer."""
        if cid not in self.customers:
            cid = self.folded.get(cid.casefold(), cid)
        return cid, self.customers.get(cid)

    def read_customers(self, records: list[Mapping[str, Any]]) -> None:
        persons = [person for record in records for person in _dicts(record.get("persons"))]
        person_counts = _id_counts(persons)
        for cid, record, shared in _identified(records):
            users = self._users(list(_dicts(record.get("persons"))), person_counts)
            if cid is None:
                self.unknown_users.update(users)
                continue
            self.named.add(EntryKey.of(Kind.CUSTOMER, cid))
            customer = _Customer(
                _flag(record, "remote_access", False), _flag(record, "agency", False), users
            )
            if shared:
                customer.remote = None
            self.customers[cid] = customer
            self.folded.setdefault(cid.casefold(), cid)
            group = EntryKey.of(Kind.CUSTOMER, cid)
            if customer.remote is None:
                self.unknown_groups.add(group)
            elif customer.remote and users:
                self.members[group] = users

    def _users(self, persons: list[Mapping[str, Any]], counts: Counter[str]) -> tuple[str, ...]:
        """Return the keys of the persons with an enabled account; mark those unknown."""
        users: dict[str, None] = {}
        for person in persons:
            pid = _ident(person.get("id"))
            if pid is None:
                continue
            key = EntryKey.of(Kind.EXTERNAL, pid)
            self.named.add(key)
            account = person.get("account")
            enabled = _flag(account, "enabled", True) if isinstance(account, dict) else None
            if account is None:
                enabled = False
            if enabled is None or counts[pid.casefold()] > 1:
                self.unknown_users.add(key)
            elif enabled:
                users[key] = None
        return tuple(users)

    def read_orders(self, records: list[Mapping[str, Any]]) -> None:
        for oid, record, shared in _identified(records):
            if oid is None:
                continue
            group = EntryKey.of(Kind.ORDER, oid)
            self.named.add(group)
            if shared:
                self.unknown_groups.add(group)
                continue
            self._order(group, record)

    def _order(self, group: str, record: Mapping[str, Any]) -> None:
        visible = _flag(record, "portal_visible", False)
        cid = _ident(record.get("customer"))
        raw_agency = record.get("agency")
        aid = _ident(raw_agency) if raw_agency is not None else None
        if visible is None or cid is None or (raw_agency is not None and aid is None):
            self.unknown_groups.add(group)
            return
        if not visible:
            return
        cid, customer = self.customer(cid)
        if customer is None:
            self.notes[group] = f"its customer {cid} does not exist: nobody may open it"
            return
        if customer.remote is None:
            self.unknown_groups.add(group)
            return
        granted = customer.users if customer.remote else ()
        self._grant(group, cid, None, granted)
        if aid is None:
            return
        aid, agency = self.customer(aid)
        if agency is None:
            self.notes[group] = f"its agency {aid} does not exist: no agency user may open it"
        elif agency.agency is None or agency.remote is None:
            self.unknown_groups.add(group)
        elif not agency.agency:
            self.notes[group] = (
                f"customer {aid} is not flagged as an agency: its users may not open the order"
            )
        elif customer.remote or self.rules.agency_without_customer_access:
            if agency.remote:
                self._grant(group, cid, aid, (*granted, *agency.users))
        else:
            self.notes[group] = (
                f"customer {cid} has no remote access, so neither has its agency {aid} "
                "(rules.agency_without_customer_access)"
            )

    def _grant(self, group: str, cid: str, aid: str | None, users: tuple[str, ...]) -> None:
        """Grant an order group these users, sharing one tuple per (customer, agency)."""
        if users:
            shared = self.shared_members.setdefault((cid, aid), tuple(dict.fromkeys(users)))
            self.members[group] = shared

    def read_internal(self, records: list[Mapping[str, Any]]) -> None:
        for uid, record, shared in _identified(records):
            if uid is None:
                continue
            key = EntryKey.of(Kind.INTERNAL, uid)
            self.named.add(key)
            enabled = _flag(record, "enabled", True)
            roles = _roles(record.get("groups", []))
            if enabled is None or roles is None or shared:
                self.unknown_users.add(key)
                roles = roles or []
            for name in roles:
                group = EntryKey.of(Kind.ROLE, name.casefold())
                self.named.add(group)
                self.role_names.setdefault(group, name)
                if enabled and key not in self.unknown_users:
                    self.roles[group].append(key)


def _roles(value: Any) -> list[str] | None:
    """Return the role names of an internal user, or None when one cannot be read."""
    if not isinstance(value, list):
        return None
    names = []
    for item in value:
        try:
            names.append(_NAME.validate_python(item))
        except ValidationError:
            return None
    return names


FIELDS_READ = frozenset(
    (
        "account",
        "agency",
        "customer",
        "enabled",
        "groups",
        "id",
        "persons",
        "portal_visible",
        "remote_access",
    )
)
"""Every field of a record `read_grants` looks at; the others may be dropped before."""


def keep_fields_read(record: Any) -> None:
    """Drop, in place, every field of a parsed record (and its parts) `read_grants` ignores.

    A large document's parsed records are kept until the grants are read;
    without their names, e-mails and phones they take a fraction of the memory.
    """
    if isinstance(record, dict):
        for name in [name for name in record if name not in FIELDS_READ]:
            del record[name]
        for value in record.values():
            keep_fields_read(value)
    elif isinstance(record, list):
        for value in record:
            keep_fields_read(value)


def read_grants(
    data: Any,
    rules: AccessRules,
    suspended: Iterable[str] = (),
    *,
    broken_export: bool = False,
    unknown_kinds: Iterable[str] = (),
) -> Grants:
    """Return the memberships a parsed source document grants.

    `suspended` names the kinds of which a record could not be identified;
    `broken_export` keeps every membership as it is: none is added either;
    `unknown_kinds` keeps every membership of entries of these kinds (an
    empty part of the source fed them).
    """
    reader = _Reader(rules)
    document = data if isinstance(data, dict) else {}
    reader.read_customers(list(_dicts(document.get("customers"))))
    reader.read_orders(list(_dicts(document.get("orders"))))
    reader.read_internal(list(_dicts(document.get("internal_users"))))
    members = reader.members
    members.update((group, tuple(dict.fromkeys(users))) for group, users in reader.roles.items())
    if broken_export:
        members = {}
    return Grants(
        members=members,
        unknown_users=frozenset(reader.unknown_users),
        unknown_groups=frozenset(reader.unknown_groups),
        named=frozenset(reader.named),
        suspended=frozenset(suspended),
        unknown_all=broken_export,
        unknown_kinds=frozenset(unknown_kinds),
        notes=reader.notes,
        role_names=reader.role_names,
    )
