"""The SCIM resources the provider should hold, read from the verdicts (pure).

A SCIM target reads what the rules decided; it does not decide again. The
users are those the run would give a directory entry (the desired entries
of kind internal or external), with the values the verdicts give; the
groups are the desired groups, named by the layout's templates, with the
members the verdicts grant. The payloads are built with scim2-models.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scim2_models import Context, Email, EnterpriseUser, Group, GroupMember, Name, User

from sync.core.desired import Desired
from sync.core.entry import EntryKey, Kind
from sync.core.mapping import FIELDS, Template
from sync.core.rules import Verdicts
from sync.core.tree import Layout

USER_ATTRIBUTES = ("userName", "name", "displayName", "userType", "active", "emails")
"""The core attributes a run owns on a user; others the provider or people may set."""
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
"""The enterprise extension: a person's customer goes to its `organization`."""


@dataclass(frozen=True)
class WantedUser:
    """A user the provider should hold: its creation payload and its attributes' digests."""

    key: str
    record: str
    payload: dict[str, Any]

    @property
    def user_name(self) -> str:
        """Return the login the user signs in with."""
        return str(self.payload["userName"])

    def digests(self) -> dict[str, str]:
        """Return the digest of each attribute the run owns (what the state keeps)."""
        return attribute_digests(self.payload)


@dataclass(frozen=True)
class WantedGroup:
    """A group the provider should hold: its name and its members, by entry key."""

    key: str
    record: str
    display_name: str
    members: tuple[str, ...]


@dataclass
class Wanted:
    """Every user and group the provider should hold, by entry key."""

    users: dict[str, WantedUser] = field(default_factory=dict)
    groups: dict[str, WantedGroup] = field(default_factory=dict)


def digest(value: object) -> str:
    """Return a short, stable digest of a JSON value."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def attribute_digests(payload: Mapping[str, Any]) -> dict[str, str]:
    """Return the digest of each owned attribute of a user payload or provider resource."""
    found = {name: digest(payload[name]) for name in USER_ATTRIBUTES if name in payload}
    if ENTERPRISE in payload:
        organization = payload[ENTERPRISE].get("organization")
        if organization:
            found[ENTERPRISE] = digest({"organization": organization})
    return found


def wanted(desired: Desired, verdicts: Verdicts, layout: Layout) -> Wanted:
    """Return the users and groups the provider should hold.

    `desired` are the run's desired entries (the rules' decisions, collisions
    and unfit values already turned into record errors); `verdicts` give
    their values. A group's members are the granted users that have a user.
    """
    found = Wanted()
    names = {
        Kind.CUSTOMER: Template(layout.customer_group_name, FIELDS[Kind.CUSTOMER], "layout"),
        Kind.ORDER: Template(layout.order_group_name, FIELDS[Kind.ORDER], "layout"),
        Kind.ROLE: Template(layout.role_group_name, FIELDS[Kind.ROLE], "layout"),
    }
    groups = []
    for key in desired.entries:
        verdict = verdicts.get(key)
        if verdict is None:
            continue
        kind = EntryKey.kind(key)
        values = verdicts.values(verdict)
        if kind.is_user:
            found.users[key] = WantedUser(key, verdict.record, user_payload(key, kind, values))
        else:
            groups.append((key, verdict.record, names[kind].render(values)))
    for key, record, name in groups:
        members = tuple(k for k in desired.grants.members.get(key, ()) if k in found.users)
        found.groups[key] = WantedGroup(key, record, name, members)
    return found


def user_payload(key: str, kind: Kind, values: Mapping[str, str]) -> dict[str, Any]:
    """Return the creation payload of a user: core schema, enterprise extension for persons."""
    given, family = values.get("first_name", ""), values.get("last_name", "")
    display = " ".join(part for part in (given, family) if part) or values["login"]
    user: User[EnterpriseUser] = User[EnterpriseUser](
        external_id=key,
        user_name=values["login"],
        name=Name(given_name=given or None, family_name=family or None, formatted=display),
        display_name=display,
        user_type=kind.value,
        active=True,
        emails=[Email(value=values["email"], type="work", primary=True)]
        if values.get("email")
        else None,
    )
    if kind is Kind.EXTERNAL and values.get("customer_name"):
        user[EnterpriseUser] = EnterpriseUser(organization=values["customer_name"])
    return user.model_dump(scim_ctx=Context.RESOURCE_CREATION_REQUEST)


def group_payload(key: str, display_name: str, member_ids: list[str]) -> dict[str, Any]:
    """Return the creation payload of a group with its members by SCIM id."""
    group = Group(
        external_id=key,
        display_name=display_name,
        members=[GroupMember(value=member) for member in member_ids] or None,
    )
    return group.model_dump(scim_ctx=Context.RESOURCE_CREATION_REQUEST)
