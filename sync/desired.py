"""The entries the directory should hold, built from the customer structure (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from sync import dn as dnlib
from sync.entry import Entry, Kind, entry_key
from sync.mapping import FIELDS, Mapping, Template
from sync.model import InternalUser
from sync.problems import Quarantine, RecordError
from sync.rules import ExternalUser, Structure


class Layout(BaseModel):
    """Where entries go under the base DN, and how groups are named."""

    model_config = ConfigDict(extra="forbid")

    internal_ou: str = "ou=internal"
    """Internal users (the shop's staff), relative to the base DN."""
    external_ou: str = "ou=external"
    """External users (customers' contact persons), relative to the base DN."""
    customer_groups_ou: str = "ou=customers,ou=groups"
    """One group per remote-access customer, relative to the base DN."""
    order_groups_ou: str = "ou=orders,ou=groups"
    """One group per order visible on the portal, relative to the base DN."""
    role_groups_ou: str = "ou=roles,ou=groups"
    """One group per internal user group (Prepress, Administrators...), relative to the base DN."""
    disabled_ou: str = "ou=disabled"
    """Users who left the source or were disabled, kept for the retention period; relative."""
    customer_group_name: str = "X{id}-{name}"
    """Name of a customer group; fields {id}, {name}, {nickname} (the vendor's default)."""
    order_group_name: str = "order-{id}"
    """Name of an order group; fields {id}, {name}, {customer_id}."""
    role_group_name: str = "{name}"
    """Name of an internal role group; field {name}."""

    def ou_of(self, kind: Kind) -> str:
        """Return the relative DN of the OU holding entries of one kind."""
        return {
            Kind.INTERNAL: self.internal_ou,
            Kind.EXTERNAL: self.external_ou,
            Kind.CUSTOMER: self.customer_groups_ou,
            Kind.ORDER: self.order_groups_ou,
            Kind.ROLE: self.role_groups_ou,
        }[kind]


@dataclass
class Desired:
    """Every entry the directory should hold, with the containers they need."""

    entries: dict[str, Entry]
    containers: tuple[str, ...]
    errors: list[RecordError] = field(default_factory=list)
    disabled_base: str = ""
    records: dict[str, str] = field(default_factory=dict)
    """The source record behind each key, as reports name it ("person P-1 of customer 10001")."""


def kind_base(layout: Layout, base_dn: str, kind: Kind) -> str:
    """Return the absolute DN of the OU holding entries of one kind."""
    return f"{layout.ou_of(kind)},{base_dn}"


def containers(layout: Layout, base_dn: str) -> tuple[str, ...]:
    """Return the DNs of every OU the layout needs, parents before children."""
    found: dict[str, int] = {}
    for relative_ou in [*(layout.ou_of(kind) for kind in Kind), layout.disabled_ou]:
        pairs = dnlib.split_dn(relative_ou)
        for depth in range(len(pairs)):
            relative = dnlib.join_dn(pairs[depth:])
            found.setdefault(f"{relative},{base_dn}", len(pairs) - depth)
    return tuple(sorted(found, key=lambda dn: found[dn]))


def build_desired(
    structure: Structure,
    layout: Layout,
    base_dn: str,
    mapping: Mapping,
    quarantine: Quarantine,
) -> Desired:
    """Return the entries the directory should hold for this structure."""
    builder = _Builder(layout, base_dn, mapping, quarantine)
    internal = [user for user in structure.internal_users if user.enabled]
    for user in internal:
        builder.add_user(
            Kind.INTERNAL, user.id, f"internal user {user.id}", _internal_context(user)
        )
    external = [
        user for user in structure.external_users if user.customer.remote_access and user.enabled
    ]
    for ext in external:
        builder.add_user(
            Kind.EXTERNAL,
            ext.person.id,
            f"person {ext.person.id} of customer {ext.customer.id}",
            _external_context(ext),
        )

    members_of_customer: dict[str, list[str]] = {}
    for ext in external:
        member = builder.member_dn(Kind.EXTERNAL, ext.person.id)
        if member:
            members_of_customer.setdefault(ext.customer.id, []).append(member)

    for customer in structure.customers.values():
        if not customer.remote_access:
            continue
        context = {"id": customer.id, "name": customer.name, "nickname": customer.nickname}
        builder.add_group(
            Kind.CUSTOMER,
            customer.id,
            f"customer {customer.id}",
            layout.customer_group_name,
            context,
            members_of_customer.get(customer.id, []),
        )

    for order in structure.orders:
        if not order.portal_visible:
            continue
        customer = structure.customers[order.customer]
        agency = structure.customers[order.agency] if order.agency else None
        members = list(members_of_customer.get(customer.id, []))
        if agency is not None:
            members += members_of_customer.get(agency.id, [])
        context = {
            "id": order.id,
            "name": order.name,
            "customer_id": customer.id,
            "customer_name": customer.name,
            "agency_id": agency.id if agency else "",
            "agency_name": agency.name if agency else "",
            "agency_note": f", agency {agency.id}" if agency else "",
        }
        builder.add_group(
            Kind.ORDER, order.id, f"order {order.id}", layout.order_group_name, context, members
        )

    roles: dict[str, tuple[str, list[str]]] = {}
    for user in internal:
        member = builder.member_dn(Kind.INTERNAL, user.id)
        if member is None:
            continue
        for name in user.groups:
            roles.setdefault(name.casefold(), (name, []))[1].append(member)
    for role_id, (name, members) in roles.items():
        builder.add_group(
            Kind.ROLE, role_id, f"role {name}", layout.role_group_name, {"name": name}, members
        )

    return Desired(
        builder.finish(),
        containers(layout, base_dn),
        builder.errors,
        disabled_base=f"{layout.disabled_ou},{base_dn}",
        records=builder.records,
    )


def _internal_context(user: InternalUser) -> dict[str, str]:
    return {
        "id": user.id,
        "login": user.login,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "phone": user.phone,
        "groups": ", ".join(user.groups),
    }


def _external_context(ext: ExternalUser) -> dict[str, str]:
    person, customer = ext.person, ext.customer
    type_names = {contact_type.id: contact_type.name for contact_type in customer.contact_types}
    return {
        "id": person.id,
        "login": ext.login,
        "first_name": person.first_name,
        "last_name": person.last_name,
        "email": person.email,
        "phone": person.phone,
        "mobile": person.mobile,
        "fax": person.fax,
        "web": person.web,
        "customer_id": customer.id,
        "customer_name": customer.name,
        "customer_nickname": customer.nickname,
        "contact_types": ", ".join(
            type_names.get(t) or t for t in dict.fromkeys(person.contact_types)
        ),
    }


class _Builder:
    """Collects entries, refusing two records that would share one DN."""

    def __init__(self, layout: Layout, base_dn: str, mapping: Mapping, quarantine: Quarantine):
        self.layout = layout
        self.base_dn = base_dn
        self.mapping = mapping
        self.quarantine = quarantine
        self.entries: dict[str, Entry] = {}
        self.records: dict[str, str] = {}
        self.by_dn: dict[str, list[str]] = {}
        self.errors: list[RecordError] = []
        self.group_names = {
            Kind.CUSTOMER: Template(
                layout.customer_group_name, FIELDS[Kind.CUSTOMER], "layout.customer_group_name"
            ),
            Kind.ORDER: Template(
                layout.order_group_name, FIELDS[Kind.ORDER], "layout.order_group_name"
            ),
            Kind.ROLE: Template(
                layout.role_group_name, FIELDS[Kind.ROLE], "layout.role_group_name"
            ),
        }

    def add_user(self, kind: Kind, source_id: str, record: str, context: dict[str, str]) -> None:
        self._add(kind, source_id, record, context, ())

    def member_dn(self, kind: Kind, source_id: str) -> str | None:
        """Return the DN of a user entry as a group member, or None when it has none."""
        self._resolve_collisions()
        entry = self.entries.get(entry_key(kind, source_id))
        return entry.dn if entry else None

    def add_group(
        self,
        kind: Kind,
        source_id: str,
        record: str,
        template: str,
        context: dict[str, str],
        members: Iterable[str],
    ) -> None:
        unique = tuple(dict.fromkeys(members))
        if not unique:
            return
        context = {**context, "group_name": self.group_names[kind].render(context)}
        self._add(kind, source_id, record, context, unique)

    def _add(
        self,
        kind: Kind,
        source_id: str,
        record: str,
        context: dict[str, str],
        members: tuple[str, ...],
    ) -> None:
        kind_mapping = self.mapping.kinds[kind]
        key = entry_key(kind, source_id)
        attributes = kind_mapping.render(context)
        attributes[self.mapping.identity_attribute] = (self.mapping.identity_value(key),)
        if kind_mapping.members:
            attributes[kind_mapping.members] = members
        naming = attributes[kind_mapping.rdn]
        if not naming:
            self.errors.append(RecordError(record, f"its {kind_mapping.rdn} is empty"))
            self.quarantine.keys.add(key)
            return
        dn = (
            f"{dnlib.rdn(kind_mapping.rdn, naming[0])},{kind_base(self.layout, self.base_dn, kind)}"
        )
        self.entries[key] = Entry(key, dn, attributes)
        self.records[key] = record
        self.by_dn.setdefault(dnlib.normalize_dn(dn), []).append(key)

    def _resolve_collisions(self) -> None:
        for keys in list(self.by_dn.values()):
            if len(keys) < 2:
                continue
            dn = self.entries[keys[0]].dn
            for key in keys:
                others = ", ".join(self.records[k] for k in keys if k != key)
                self.errors.append(
                    RecordError(self.records[key], f"its DN {dn} is also wanted by {others}")
                )
                self.quarantine.keys.add(key)
                del self.entries[key]
            keys.clear()

    def finish(self) -> dict[str, Entry]:
        self._resolve_collisions()
        return self.entries
