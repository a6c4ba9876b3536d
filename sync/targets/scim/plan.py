"""What a SCIM run must send: the wanted resources against what it pushed before (pure).

The provider is not read whole: the state of the last runs says, per
resource, its SCIM id, the digest of each attribute pushed, its members and
since when a user is disabled. A second run over the same source therefore
sends no write, and one change sends O(1) requests: a PATCH of the changed
attributes, or a PATCH adding or removing one member, never a PUT.

The safety rules of the directory hold: a record in error (the quarantine)
keeps its resource exactly as it is and stays in every group it is in; a
kind whose deletions are suspended (a record that cannot be identified, a
part of the source that came back empty, a broken export) is neither
disabled nor deleted; an unknown membership is kept, never added.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sync.core.entry import EntryKey
from sync.core.grants import Grants
from sync.core.problems import Quarantine
from sync.targets.scim.resources import ENTERPRISE, Wanted, digest


class Step(StrEnum):
    """What one request does; the report counts requests by it."""

    CREATE_USER = "create-user"
    UPDATE_USER = "update-user"
    DISABLE_USER = "disable-user"
    DELETE_USER = "delete-user"
    CREATE_GROUP = "create-group"
    UPDATE_GROUP = "update-group"
    DELETE_GROUP = "delete-group"

    @property
    def destructive(self) -> bool:
        """Return whether the step disables or deletes (the deletion guard counts these)."""
        return self in (Step.DISABLE_USER, Step.DELETE_USER, Step.DELETE_GROUP)


@dataclass
class Pushed:
    """What the state remembers of one resource a run pushed (or adopted by its externalId)."""

    id: str
    digests: dict[str, str] = field(default_factory=dict)
    """User: digest per owned attribute; group: {"displayName": digest}."""
    members: tuple[str, ...] = ()
    """Group: the entry keys of the members pushed."""
    disabled_since: datetime | None = None
    """User: when the run set active=false."""


@dataclass(frozen=True)
class Request:
    """One write to the provider, with the keys its members stand for until they have ids."""

    step: Step
    key: str
    record: str
    replace: dict[str, Any] = field(default_factory=dict)
    """User: the attributes to set (the whole payload for a creation)."""
    remove: tuple[str, ...] = ()
    """User: the attributes to remove."""
    add_members: tuple[str, ...] = ()
    remove_members: tuple[str, ...] = ()
    display_name: str = ""


@dataclass
class ScimPlan:
    """The requests of one run, in the order they are sent."""

    requests: list[Request] = field(default_factory=list)

    def destructive(self) -> list[Request]:
        """Return the requests that disable or delete."""
        return [request for request in self.requests if request.step.destructive]


def make_plan(
    wanted: Wanted,
    pushed: dict[str, Pushed],
    quarantine: Quarantine,
    grants: Grants,
    *,
    now: datetime,
    retention: timedelta,
    records: dict[str, str],
) -> ScimPlan:
    """Return the requests that bring the provider from `pushed` to `wanted`.

    Order: users created or updated, groups created or updated (their new
    members exist by then), users disabled, then deletions. `records` name
    the records of keys no longer wanted, for the report.
    """
    plan = ScimPlan()
    later: list[Request] = []
    deletions: list[Request] = []
    for key, user in wanted.users.items():
        if quarantine.protects(key):
            continue
        before = pushed.get(key)
        if before is None:
            plan.requests.append(Request(Step.CREATE_USER, key, user.record, dict(user.payload)))
            continue
        now_digests = user.digests()
        changed = {
            name: value
            for name, value in user.payload.items()
            if name in now_digests and before.digests.get(name) != now_digests[name]
        }
        gone = tuple(sorted(set(before.digests) - set(now_digests)))
        if changed or gone:
            plan.requests.append(Request(Step.UPDATE_USER, key, user.record, changed, gone))
    for key, group in wanted.groups.items():
        if quarantine.protects(key):
            continue
        before = pushed.get(key)
        if before is None:
            plan.requests.append(
                Request(
                    Step.CREATE_GROUP,
                    key,
                    group.record,
                    add_members=group.members,
                    display_name=group.display_name,
                )
            )
            continue
        add = tuple(k for k in group.members if k not in before.members)
        remove = tuple(
            k
            for k in before.members
            if k not in group.members and _may_remove(k, key, quarantine, grants)
        )
        renamed = before.digests.get("displayName") != _name_digest(group.display_name)
        if add or remove or renamed:
            plan.requests.append(
                Request(
                    Step.UPDATE_GROUP,
                    key,
                    group.record,
                    add_members=add,
                    remove_members=remove,
                    display_name=group.display_name if renamed else "",
                )
            )
    for key, before in pushed.items():
        if key in wanted.users or key in wanted.groups or quarantine.blocks_deletion(key):
            continue
        record = records.get(key) or EntryKey.label(key)
        if EntryKey.kind(key).is_group:
            deletions.append(Request(Step.DELETE_GROUP, key, record))
        elif before.disabled_since is None:
            later.append(Request(Step.DISABLE_USER, key, record, {"active": False}))
        elif now - before.disabled_since >= retention:
            deletions.append(Request(Step.DELETE_USER, key, record))
    plan.requests.extend(later)
    plan.requests.extend(deletions)
    return plan


def _may_remove(user: str, group: str, quarantine: Quarantine, grants: Grants) -> bool:
    """Return whether a member no longer granted may leave: not when unknown or in error."""
    if user.startswith(STALE):
        return True
    return not grants.keeps(user, group) and not quarantine.protects(user)


STALE = "stale-id:"
"""A group member recorded by its old SCIM id: its user vanished from the provider, which
may keep the id in the group; the next run removes it (and adds the recreated user)."""


def _name_digest(name: str) -> str:
    return digest(name)


def group_digests(display_name: str) -> dict[str, str]:
    """Return what the state keeps of a group's attributes."""
    return {"displayName": _name_digest(display_name)}


def patch_operations(request: Request, ids: dict[str, str]) -> list[dict[str, Any]]:
    """Return the PATCH operations of an update, members by SCIM id (`ids`: key -> id).

    Members without an id (their creation failed) are left out: the next run adds them.
    """
    operations: list[dict[str, Any]] = []
    for name, value in request.replace.items():
        if name == ENTERPRISE:
            operations.append({"op": "replace", "value": {ENTERPRISE: value}})
        else:
            operations.append({"op": "replace", "path": name, "value": value})
    operations.extend({"op": "remove", "path": name} for name in request.remove)
    if request.display_name:
        operations.append({"op": "replace", "path": "displayName", "value": request.display_name})
    added = [{"value": ids[k]} for k in request.add_members if k in ids]
    if added:
        operations.append({"op": "add", "path": "members", "value": added})
    for key in request.remove_members:
        id_ = key.removeprefix(STALE) if key.startswith(STALE) else ids.get(key)
        if id_ is not None:
            operations.append({"op": "remove", "path": f"members[value eq {quoted(id_)}]"})
    return operations


def quoted(value: str) -> str:
    """Return a SCIM filter string literal (RFC 7644 3.4.2.2: JSON string rules)."""
    return json.dumps(value, ensure_ascii=False)
