"""Access answers for people: who may open what and why, and drift from the source rules.

The answers come from the directory (`sync.portal.login`); `user_drift` and
`order_drift` hold them against what the source rules grant (`sync.core.grants`),
entry by entry: a member value is judged by the entry it names, so a DN that
now belongs to someone else, or names a moved or disabled entry, is drift.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from sync.core import dn as dnlib
from sync.core.desired import Desired
from sync.core.entry import EntryKey, Kind
from sync.core.grants import Grants
from sync.portal.login import EntryState, Holder, Portal, PortalUser


@dataclass(frozen=True)
class Drift:
    """What the directory grants beyond the source rules, and what it lacks."""

    extra: tuple[str, ...]
    missing: tuple[str, ...]
    collisions: tuple[str, ...] = ()
    """Entries portal-sync does not own that hold the login too, in words."""

    @property
    def none(self) -> bool:
        """Return whether the directory agrees with the rules."""
        return not (self.extra or self.missing or self.collisions)

    def lines(self, what: str) -> list[str]:
        """Return the drift as text lines."""
        if self.none:
            return [f"compare: the directory agrees with the source rules ({what})"]
        lines = [f"compare: DRIFT between the directory and the source rules ({what})"]
        lines += [f"  granted by the directory, not by the rules: {item}" for item in self.extra]
        lines += [
            f"  granted by the rules, missing in the directory: {item}" for item in self.missing
        ]
        lines += [f"  login held by another entry: {item}" for item in self.collisions]
        return lines


def drift(directory: set[str], rules: set[str]) -> Drift:
    """Return the difference between two answers."""
    return Drift(tuple(sorted(directory - rules)), tuple(sorted(rules - directory)))


def granted_orders(grants: Grants, key: str) -> set[str]:
    """Return the IDs of the orders the rules grant the user with this key."""
    return {
        EntryKey.source_id(group)
        for group in grants.groups_of(key)
        if EntryKey.kind(group) is Kind.ORDER
    }


def user_drift(
    holder: Holder | None, found: set[str], desired: Desired, present: Callable[[str], bool]
) -> Drift:
    """Return how the orders a user opens differ from what the rules grant that entry.

    The entry is the one the directory holds for the login, whoever's it
    is: its identity says which record the rules are asked about. `present`
    says whether a group exists (the group of an order in error is kept,
    never created).
    """
    if holder is None or holder.key is None or holder.state is not EntryState.ACTIVE:
        return drift(found, set())
    grants = desired.grants
    expected = {
        order
        for order in granted_orders(grants, holder.key)
        if _order(order) in desired.entries or present(_order(order))
    }
    expected |= {order for order in found if grants.keeps(holder.key, _order(order))}
    return drift(found, expected)


def order_drift(
    order_id: str,
    group_dn: str | None,
    members: list[Holder],
    entries: dict[str, Holder],
    desired: Desired,
) -> Drift:
    """Return how an order group's members differ from the users the rules grant it.

    `members` are the group's values as the directory resolves them;
    `entries` are the user entries of the keys the rules grant, by key. A
    value naming no entry, a disabled entry or an entry that is not
    portal-sync's is drift, and so is a granted user whose entry is not a
    member, or a member whose entry belongs to a record the rules do not grant.
    """
    key = _order(order_id)
    grants = desired.grants
    found: set[str] = set()
    expected: set[str] = set()
    for member in members:
        if group_dn is not None and dnlib.normalize_dn(member.dn) == dnlib.normalize_dn(group_dn):
            continue
        if member.state is not EntryState.ACTIVE:
            found.add(f"{member.dn} ({member.state.value})")
        elif member.key is None:
            found.add(f"{member.dn} (not an entry of portal-sync)")
        else:
            found.add(member.login)
            if grants.keeps(member.key, key):
                expected.add(member.login)
    if group_dn is not None or key in desired.entries:
        for user in grants.members.get(key, ()):
            holder = entries.get(user)
            if holder is not None and holder.state is EntryState.ACTIVE:
                expected.add(holder.login)
    return drift(found, expected)


def _order(order_id: str) -> str:
    return EntryKey.of(Kind.ORDER, order_id)


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


def compare_user(
    portal: Portal,
    desired: Desired,
    login: str,
    user: PortalUser | None,
    owners: list[str] | None = None,
) -> Drift:
    """Return the drift of one login's orders, reading what the directory holds for it.

    Every entry below the base DN holding the login is read: one that is
    not the entry of the record the source gives the login to is drift too.
    `owners` are the keys of the desired user entries at this login
    (`desired_logins`), when the caller keeps them; otherwise they are found
    in `desired`.
    """
    if owners is None:
        owners = desired_logins(desired).get(login.casefold(), [])
    collisions = login_collisions(owners, portal.login_holders(login)) if owners else ()
    if user is None:
        expected = {
            order
            for key in owners
            for order in granted_orders(desired.grants, key)
            if _order(order) in desired.entries
        }
        return replace(drift(set(), expected), collisions=collisions)
    holder = portal.holder(user.dn)
    found = user_drift(holder, set(user.orders), desired, portal.group_exists)
    return replace(found, collisions=collisions)


def desired_logins(desired: Desired) -> dict[str, list[str]]:
    """Return the keys of the desired user entries by their login (case-folded)."""
    found: dict[str, list[str]] = {}
    for key, entry in desired.entries.items():
        if entry.kind.is_user:
            found.setdefault(_login_of(entry.dn).casefold(), []).append(key)
    return found


def login_collisions(owners: list[str], holders: list[Holder]) -> tuple[str, ...]:
    """Return the entries that hold a login besides the entry of the record it belongs to.

    An entry without portal-sync's identity, an active entry of another
    record, or a second entry carrying the record's own identity (a copy).
    A disabled entry of another record holds nothing: its login is free.
    """
    found: list[str] = []
    own = [holder for holder in holders if holder.key in owners]
    for holder in holders:
        if holder.key is None:
            whose = "an entry portal-sync does not own"
        elif holder.key not in owners and holder.state is EntryState.ACTIVE:
            whose = f"the entry of {EntryKey.label(holder.key)}"
        elif holder.key in owners and len(own) > 1:
            whose = (
                f"one of {len(own)} entries carrying the identity of {EntryKey.label(holder.key)}"
            )
        else:
            continue
        found.append(
            f"{holder.dn} ({whose}): portal logins with it are ambiguous; rename or delete it"
        )
    return tuple(found)


def _login_of(dn: str) -> str:
    return dnlib.split_dn(dn)[0][1]


def compare_order(portal: Portal, desired: Desired, order_id: str) -> Drift:
    """Return the drift of one order's group, reading the entries its members name."""
    answer = portal.order_group(order_id)
    group_dn, values = answer if answer is not None else (None, ())
    members = portal.holders_at(values)
    entries = portal.holders_of(desired.grants.members.get(_order(order_id), ()))
    return order_drift(order_id, group_dn, members, entries, desired)
