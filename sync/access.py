"""Access answers for people: who may open what and why, and drift from the source rules.

The answers come from the directory (`sync.portal`); `expected_*` compute
the same answers from the source document through the rules and the
desired state, so `--compare` shows where the directory has drifted.
"""

from __future__ import annotations

from dataclasses import dataclass

from sync import dn as dnlib
from sync.desired import Desired
from sync.entry import Kind, key_kind
from sync.portal import PortalUser


@dataclass(frozen=True)
class Drift:
    """What the directory grants beyond the source rules, and what it lacks."""

    extra: tuple[str, ...]
    missing: tuple[str, ...]

    @property
    def none(self) -> bool:
        """Return whether the directory agrees with the rules."""
        return not (self.extra or self.missing)

    def lines(self, what: str) -> list[str]:
        """Return the drift as text lines."""
        if self.none:
            return [f"compare: the directory agrees with the source rules ({what})"]
        lines = [f"compare: DRIFT between the directory and the source rules ({what})"]
        lines += [f"  granted by the directory, not by the rules: {item}" for item in self.extra]
        lines += [
            f"  granted by the rules, missing in the directory: {item}" for item in self.missing
        ]
        return lines


def drift(directory: set[str], rules: set[str]) -> Drift:
    """Return the difference between two answers."""
    return Drift(tuple(sorted(directory - rules)), tuple(sorted(rules - directory)))


def _login_of(dn: str) -> str:
    return dnlib.split_dn(dn)[0][1]


def expected_orders(desired: Desired, login: str, members: str) -> set[str]:
    """Return the IDs of the orders the rules let the user with this login open."""
    user_dns = {
        dnlib.normalize_dn(entry.dn)
        for entry in desired.entries.values()
        if not entry.kind.is_group and _login_of(entry.dn).casefold() == login.casefold()
    }
    return {
        key.split(":", 1)[1]
        for key, entry in desired.entries.items()
        if key_kind(key) is Kind.ORDER
        and user_dns & {dnlib.normalize_dn(m) for m in entry.attributes.get(members, ())}
    }


def expected_members(desired: Desired, order_id: str, members: str) -> set[str]:
    """Return the logins the rules let open the order."""
    entry = desired.entries.get(f"{Kind.ORDER.value}:{order_id}")
    if entry is None:
        return set()
    return {_login_of(member) for member in entry.attributes.get(members, ())}


def describe_user(user: PortalUser) -> list[str]:
    """Return a user's access as text lines."""
    lines = [
        f"login:     {user.login}",
        f"dn:        {user.dn}",
        f"kind:      {user.kind.value}",
        f"customer:  {', '.join(user.customers) or '(none)'}",
        f"groups:    {len(user.groups)}",
    ]
    lines += [f"  {group}" for group in sorted(user.groups)]
    lines.append(f"orders:    {len(user.grants)}")
    grants = sorted(user.grants, key=lambda grant: grant.order_id)
    lines += [f"  {grant.order_id}: {grant.reason}" for grant in grants]
    return lines


def describe_order(order_id: str, group_dn: str, users: tuple[PortalUser, ...]) -> list[str]:
    """Return who may open an order, and why, as text lines."""
    lines = [f"order:     {order_id}", f"group:     {group_dn}", f"users:     {len(users)}"]
    for user in sorted(users, key=lambda u: u.login):
        reason = next((g.reason for g in user.grants if g.order_id == order_id), "member")
        lines.append(f"  {user.login} ({user.kind.value}): {reason}")
    return lines
