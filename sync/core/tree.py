"""Where the service's entries live: the layout of OUs under the base DN, and group names."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from sync.core import dn as dnlib
from sync.core.entry import Kind


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


@dataclass(frozen=True)
class Tree:
    """The layout placed under the base DN: the one object that knows where entries live."""

    layout: Layout
    base_dn: str

    def base(self, kind: Kind) -> str:
        """Return the DN of the OU holding entries of one kind."""
        return f"{self.layout.ou_of(kind)},{self.base_dn}"

    @property
    def disabled(self) -> str:
        """Return the DN of the OU holding disabled users."""
        return f"{self.layout.disabled_ou},{self.base_dn}"

    def managed(self) -> list[str]:
        """Return the DNs of the OUs that hold managed entries: every kind's, then the disabled."""
        return [*(self.base(kind) for kind in Kind), self.disabled]

    def containers(self) -> tuple[str, ...]:
        """Return the DNs of every OU the layout needs, parents before children."""
        found: dict[str, int] = {}
        for relative_ou in [*(self.layout.ou_of(kind) for kind in Kind), self.layout.disabled_ou]:
            pairs = dnlib.split_dn(relative_ou)
            for depth in range(len(pairs)):
                relative = dnlib.join_dn(pairs[depth:])
                found.setdefault(f"{relative},{self.base_dn}", len(pairs) - depth)
        return tuple(sorted(found, key=lambda dn: found[dn]))
