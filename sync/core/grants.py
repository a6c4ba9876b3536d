"""Who the source lets into which group, by entry key: the verdicts' memberships (pure).

Entries are kept, grants are not: a record that fails validation keeps its
directory entry exactly as it is, but its memberships stay only while the
document still supports them. The verdicts (`sync.core.rules`) read them
from the document itself, one field at a time, for valid and bad records
alike; `Verdicts.grants` gathers them here for the plan and the portal.

A (user, group) pair is granted, not granted, or unknown. It is unknown
when a field it depends on cannot be read (`"enabled": "maybe"`), when two
records share the id it depends on, when a record cannot be identified at
all, or when the whole document looks like a broken export: an unknown
membership is kept as it is, never added. A broken reference is not
unknown: an order whose customer or agency does not exist, or whose agency
is not flagged as one, grants nothing through it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from pydantic import BaseModel, ConfigDict

from sync.core.entry import EntryKey


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

    def groups_of(self, user: str) -> tuple[str, ...]:
        """Return the keys of the groups that grant this user.

        The answer comes from an index of every user's groups, built on the
        first question and kept with these grants: the console asks it on
        every user page, and a scan of every group costs 90 ms at size M.
        """
        return self._groups_by_user.get(user, ())

    @cached_property
    def _groups_by_user(self) -> dict[str, tuple[str, ...]]:
        found: dict[str, list[str]] = {}
        for group, users in self.members.items():
            for user in users:
                found.setdefault(user, []).append(group)
        return {user: tuple(groups) for user, groups in found.items()}

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
