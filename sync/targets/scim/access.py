"""`portal-sync access --target scim`: who the SCIM provider lets in, read from the provider.

The same questions as the directory's answers (sync.portal.access), asked of
the provider: a user's kind, customer groups, roles and orders; an order's
users. The groups are told apart by their externalId (the source key).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sync.core.entry import EntryKey, Kind
from sync.errors import TargetUnavailable
from sync.settings import Settings
from sync.targets.scim.client import Refused, ScimClient
from sync.targets.scim.plan import quoted


def describe_user(settings: Settings, login: str) -> tuple[list[str], bool]:
    """Return what the provider says of a login, and whether it holds that user."""
    with ScimClient(settings.scim) as client, refusals_stop():
        users = client.find("Users", "userName", login)
        if not users:
            return [f"no user {login!r} on the SCIM provider {settings.scim.url}"], False
        user = users[0]
        groups = client.search("Groups", f"members.value eq {quoted(str(user['id']))}")
    key = EntryKey.parse(str(user.get("externalId") or ""))
    by_kind = _by_kind(groups)
    lines = [
        f"login:     {user.get('userName')}",
        f"scim id:   {user.get('id')}",
        f"kind:      {user.get('userType') or '(none)'}"
        + ("" if key else f" (not this service's: externalId {user.get('externalId')!r})"),
        f"active:    {'yes' if user.get('active', True) else 'no (disabled)'}",
        f"customer:  {', '.join(by_kind[Kind.CUSTOMER]) or '(none)'}",
        f"roles:     {', '.join(by_kind[Kind.ROLE]) or '(none)'}",
        f"orders:    {len(by_kind[Kind.ORDER])}",
    ]
    lines += [f"  {name}" for name in by_kind[Kind.ORDER]]
    return lines, True


def describe_order(settings: Settings, order_id: str) -> tuple[list[str], bool]:
    """Return who the provider lets open an order, and whether it holds the order's group."""
    key = EntryKey.of(Kind.ORDER, order_id)
    with ScimClient(settings.scim) as client, refusals_stop():
        groups = [g for g in client.find("Groups", "externalId", key) if g.get("externalId") == key]
        if not groups:
            return [
                f"no group for order {order_id!r} on the SCIM provider: nobody outside the shop "
                "may open it"
            ], False
        group = groups[0]
        members = [client.get("Users", str(m["value"])) for m in group.get("members") or []]
    lines = [f"order:     {order_id}", f"group:     {group.get('displayName')}"]
    lines.append(f"users:     {len(members)}")
    lines += [
        f"  {m.get('userName')} ({m.get('userType') or '?'})"
        for m in sorted(members, key=lambda m: str(m.get("userName")))
    ]
    return lines, True


def _by_kind(groups: list[dict[str, Any]]) -> dict[Kind, list[str]]:
    found: dict[Kind, list[str]] = {Kind.CUSTOMER: [], Kind.ORDER: [], Kind.ROLE: []}
    for group in groups:
        key = EntryKey.parse(str(group.get("externalId") or ""))
        if key is not None and EntryKey.kind(key) in found:
            found[EntryKey.kind(key)].append(str(group.get("displayName")))
    return {kind: sorted(names) for kind, names in found.items()}


@contextmanager
def refusals_stop() -> Iterator[None]:
    """Turn a refused question into TargetUnavailable: no record stands behind it."""
    try:
        yield
    except Refused as exc:
        raise TargetUnavailable(f"the SCIM provider refused the question: {exc}") from exc
