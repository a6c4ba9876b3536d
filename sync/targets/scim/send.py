"""Sending a SCIM plan: each request as it goes on the wire, and each answer recorded.

Only what the provider confirmed is recorded in `pushed` (the state the run
saves), request by request, so a run stopped half-way leaves a true state.
A refusal of one resource becomes a record error naming the record; the
run carries on. Creations go through /Bulk when the provider offers it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sync import stop
from sync.core.problems import Problem, RecordError
from sync.core.report import Report
from sync.targets.scim.client import Refused, ScimClient
from sync.targets.scim.plan import (
    STALE,
    Pushed,
    Request,
    ScimPlan,
    Step,
    group_digests,
    patch_operations,
)
from sync.targets.scim.resources import attribute_digests, digest, group_payload

PATHS = {True: "Groups", False: "Users"}
"""The resource endpoint of groups (True) and users (False)."""
_BULK_MOST = 500
"""Most creations in one /Bulk request, whatever the provider allows (payload size)."""


def wire(request: Request, ids: dict[str, str]) -> dict[str, Any]:
    """Return one request as sent: op, method, path, record, key and body."""
    is_group = request.step in (Step.CREATE_GROUP, Step.UPDATE_GROUP, Step.DELETE_GROUP)
    base = PATHS[is_group]
    found: dict[str, Any] = {"op": request.step.value, "record": request.record}
    found["key"] = request.key
    if request.step is Step.CREATE_USER:
        found.update(method="POST", path=f"/{base}", body=request.replace)
    elif request.step is Step.CREATE_GROUP:
        members = [ids[k] for k in request.add_members if k in ids]
        body = group_payload(request.key, request.display_name, members)
        found.update(method="POST", path=f"/{base}", body=body)
    elif request.step in (Step.DELETE_USER, Step.DELETE_GROUP):
        found.update(method="DELETE", path=f"/{base}/{ids.get(request.key, '?')}")
    else:
        operations = patch_operations(request, ids)
        found.update(method="PATCH", path=f"/{base}/{ids.get(request.key, '?')}")
        found["body"] = {"Operations": operations}
    return found


class Sender:
    """Sends the requests of one run and keeps `pushed` true to the provider's answers."""

    def __init__(
        self, client: ScimClient, pushed: dict[str, Pushed], report: Report, at: datetime
    ) -> None:
        self.client = client
        self.pushed = pushed
        self.report = report
        self.at = at

    def ids(self) -> dict[str, str]:
        """Return the SCIM id of every resource pushed, by key."""
        return {key: pushed.id for key, pushed in self.pushed.items()}

    def send(self, plan: ScimPlan) -> None:
        """Send the plan's requests in order; record each answer in the state as it comes.

        Creations go through /Bulk, as many at once as the provider takes,
        when it offers bulk and `scim.bulk` is on.
        """
        batch = self.bulk_size(plan)
        requests = plan.requests
        index = 0
        while index < len(requests):
            stop.requested.check()
            request = requests[index]
            if batch > 1 and request.step in (Step.CREATE_USER, Step.CREATE_GROUP):
                same = [request]
                while (
                    index + len(same) < len(requests)
                    and len(same) < batch
                    and requests[index + len(same)].step is request.step
                ):
                    same.append(requests[index + len(same)])
                self.send_bulk(same)
                index += len(same)
                continue
            index += 1
            sent = wire(request, self.ids())
            if sent["method"] == "PATCH" and not sent["body"]["Operations"]:
                continue  # only members whose creation was refused: the next run adds them
            try:
                self.send_one(request, sent)
            except Refused as exc:
                self.refused(request, exc)
                continue
            self.report.requests.append(sent)

    def bulk_size(self, plan: ScimPlan) -> int:
        """Return how many creations one /Bulk request carries (1: no bulk)."""
        creations = sum(r.step in (Step.CREATE_USER, Step.CREATE_GROUP) for r in plan.requests)
        if not self.client.settings.bulk or creations < 2:
            return 1
        offer = self.client.configuration().get("bulk") or {}
        if not offer.get("supported"):
            return 1
        return max(1, min(int(offer.get("maxOperations") or 1), _BULK_MOST))

    def send_bulk(self, requests: list[Request]) -> None:
        """Send creations in one /Bulk request; record each operation the provider confirms.

        An operation without an answer is not recorded: the next run finds
        its resource by externalId if the provider created it after all.
        """
        ids = self.ids()
        sent = {str(n): (r, wire(r, ids)) for n, r in enumerate(requests)}
        operations = [
            {"method": "POST", "path": sent_as["path"], "bulkId": bulk_id, "data": sent_as["body"]}
            for bulk_id, (_, sent_as) in sent.items()
        ]
        for answer in self.client.bulk(operations):
            bulk_id = str(answer.get("bulkId"))
            if bulk_id not in sent:
                continue
            request, sent_as = sent[bulk_id]
            status = int(str(answer.get("status") or 0)[:3] or 0)
            if 200 <= status < 300 and answer.get("location"):
                created = {"id": str(answer["location"]).rstrip("/").rsplit("/", 1)[-1]}
                self.created(request, created)
                self.report.requests.append({**sent_as, "via": "/Bulk"})
                continue
            error = answer.get("response") or {}
            refused = Refused(status, str(error.get("scimType") or ""), str(error.get("detail")))
            self.refused(request, refused)

    def created(self, request: Request, created: dict[str, Any]) -> None:
        """Record a resource the provider created."""
        if request.step is Step.CREATE_USER:
            self.pushed[request.key] = Pushed(
                str(created["id"]), attribute_digests(request.replace)
            )
            return
        members = tuple(k for k in request.add_members if k in self.pushed)
        self.pushed[request.key] = Pushed(
            str(created["id"]), group_digests(request.display_name), members
        )

    def send_one(self, request: Request, sent: dict[str, Any]) -> None:
        step, key = request.step, request.key
        path = sent["path"].lstrip("/")
        if step in (Step.CREATE_USER, Step.CREATE_GROUP):
            self.created(request, self.client.create(path, sent["body"]))
        elif step in (Step.DELETE_USER, Step.DELETE_GROUP):
            resource, _, id_ = path.partition("/")
            self.client.delete(resource, id_)
            del self.pushed[key]
            for pushed in self.pushed.values():
                if key in pushed.members:
                    pushed.members = tuple(k for k in pushed.members if k != key)
        else:
            resource, _, id_ = path.partition("/")
            if sent["body"]["Operations"]:
                self.client.patch(resource, id_, sent["body"]["Operations"])
            self.patched(request)

    def patched(self, request: Request) -> None:
        """Record a PATCH the provider accepted."""
        before = self.pushed[request.key]
        if request.step is Step.DISABLE_USER:
            before.digests["active"] = digest(False)
            before.disabled_since = self.at
            return
        if request.step is Step.UPDATE_USER:
            before.digests.update(attribute_digests(request.replace))
            for name in request.remove:
                before.digests.pop(name, None)
            if request.replace.get("active") is True:
                before.disabled_since = None
            return
        removed = set(request.remove_members)
        kept = [k for k in before.members if k not in removed]
        kept.extend(k for k in request.add_members if k in self.pushed and k not in kept)
        before.members = tuple(kept)
        if request.display_name:
            before.digests.update(group_digests(request.display_name))

    def refused(self, request: Request, exc: Refused) -> None:
        """Report a refused request as a record error; forget a resource that vanished."""
        what = f"the SCIM provider refused {request.step.value}: {exc}"
        if exc.status == 404 and request.key in self.pushed:
            gone = self.pushed.pop(request.key)
            for pushed in self.pushed.values():  # its old id may linger in the groups
                pushed.members = tuple(
                    STALE + gone.id if k == request.key else k for k in pushed.members
                )
            what = (
                f"its SCIM resource vanished from the provider ({request.step.value} answered "
                "404): it is created again on the next run"
            )
        elif exc.status == 409:
            what = self.conflict(request, exc)
        elif exc.status == 400 and exc.scim_type in ("invalidValue", "invalidSyntax"):
            what = (
                f"the SCIM provider refused a value ({exc.scim_type}): {exc.detail}; "
                "correct the record in the source"
            )
        self.report.errors.append(
            RecordError(request.record, what, request.key, why=Problem.DIRECTORY)
        )

    def conflict(self, request: Request, exc: Refused) -> str:
        """Say who holds the unique value a creation or rename wanted (never taken over)."""
        is_user = request.step in (Step.CREATE_USER, Step.UPDATE_USER)
        attribute = "userName" if is_user else "displayName"
        value = str(request.replace.get("userName", "")) if is_user else request.display_name
        if not value:
            return f"the SCIM provider refused it as not unique: {exc.detail}"
        try:
            holders = self.client.find(PATHS[not is_user], attribute, value)
        except Refused:
            holders = []
        owner = next((str(h.get("externalId") or "") for h in holders), "")
        whose = f"externalId {owner!r}" if owner else "no externalId"
        return (
            f"{attribute} {value!r} is held on the SCIM provider by a resource that is not "
            f"this service's ({whose}): left untouched; rename one of them"
        )
