"""One SCIM run: read the source, look up what the state lacks, plan, guard, send, record.

The run reads the same source side as the directory's run (`prepare`, with
the verdicts kept) and never rebuilds a rule. Only the provider's answers
are recorded in the state, each as it comes: a run stopped by an outage
leaves a state that is true, and the next run looks up by externalId what
it may have created without hearing back, so it creates no duplicate.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sync import clock, stop
from sync.core.entry import EntryKey
from sync.core.guard import held_reason
from sync.core.problems import Problem, RecordError
from sync.core.report import STOPPING, Outcome, Report, outcome_of
from sync.errors import LockBusy
from sync.progress import Progress
from sync.run.lock import FileLock
from sync.run.prepare import Prepared, prepare
from sync.settings import Settings
from sync.targets.scim.client import Refused, ScimClient
from sync.targets.scim.plan import (
    STALE,
    Pushed,
    Request,
    ScimPlan,
    Step,
    group_digests,
    make_plan,
    patch_operations,
)
from sync.targets.scim.resources import (
    Wanted,
    attribute_digests,
    digest,
    group_payload,
    wanted,
)
from sync.targets.scim.state import load_pushed, save_pushed

log = logging.getLogger("portal_sync.scim")

LOCK_FILE = "scim.lock"
_PATHS = {True: "Groups", False: "Users"}
_BULK_MOST = 500
"""Most creations in one /Bulk request, whatever the provider allows (payload size)."""


def locked_scim(
    settings: Settings, wait: float, cancel: threading.Event | None = None, **options: Any
) -> Report:
    """Run once holding the SCIM run lock (scim.lock); raise LockBusy past `wait` seconds."""
    lock = FileLock(settings.state_dir / LOCK_FILE)
    if not lock.acquire(time.monotonic() + wait, cancel or threading.Event()):
        raise LockBusy(f"another SCIM run holds {lock.path} ({lock.holder()})")
    try:
        return run_scim(settings, **options)
    finally:
        lock.release()


def run_scim(
    settings: Settings,
    *,
    dry_run: bool = False,
    allow_deletions: int | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
    **_ignored: Any,
) -> Report:
    """Push the users and groups to the SCIM provider; return the report (never raises).

    `allow_deletions` approves that many disables and deletions past the
    deletion guard; `now` is the clock of the retention of disabled users.
    """
    report = Report(started=clock.now(), dry_run=dry_run, target="scim")
    try:
        _ScimRun(settings, report, now or report.started, progress or Progress()).run(
            allow_deletions
        )
    except STOPPING as exc:
        report.fail(outcome_of(exc), str(exc))
    report.finish(clock.now())
    log.log(
        logging.INFO if report.failure is None else logging.DEBUG,
        "%s",
        report.to_text(verbose=False),
    )
    return report


class _ScimRun:
    """One run of `run_scim`: the source side, the state, the client and the report."""

    def __init__(self, settings: Settings, report: Report, at: datetime, progress: Progress):
        self.settings = settings
        self.report = report
        self.at = at
        self.progress = progress
        self.pushed: dict[str, Pushed] = {}

    def run(self, allow_deletions: int | None) -> None:
        settings, report = self.settings, self.report
        prepared = prepare(settings, self.progress, keep_verdicts=True)
        report.errors.extend(prepared.errors)
        report.decisions = prepared.decisions
        stop.requested.check()
        assert prepared.verdicts is not None
        url = settings.scim.url
        self.pushed = load_pushed(settings.state_dir, url)
        report.errors.extend(
            prepared.protect_vanished(list(self.pushed), settings.safety.ratio_floor)
        )
        want = wanted(prepared.desired, prepared.verdicts, settings.layout)
        report.managed = dict(Counter(EntryKey.kind(k).value for k in [*want.users, *want.groups]))
        self.progress.stage("reading the SCIM provider")
        with ScimClient(settings.scim) as client:
            self.adopt(client, want, prepared)
            plan = make_plan(
                want,
                self.pushed,
                prepared.quarantine,
                prepared.desired.grants,
                now=self.at,
                retention=timedelta(days=settings.safety.retention_days),
                records=prepared.desired.records,
            )
            held = held_reason(
                len(plan.destructive()), len(self.pushed), settings.safety, allow_deletions
            )
            if held or report.dry_run:
                report.requests = self.described(plan, want)
                if held:
                    report.fail(
                        Outcome.DELETION_GUARD,
                        f"{held}; nothing was sent. Review the pending requests, then approve "
                        f"with: portal-sync run --allow-deletions {len(plan.destructive())}",
                    )
                return
            self.progress.stage("writing to the SCIM provider")
            try:
                self.send(client, plan, want)
            finally:
                if warning := save_pushed(settings.state_dir, url, self.pushed):
                    report.warnings.append(warning)

    def adopt(self, client: ScimClient, want: Wanted, prepared: Prepared) -> None:
        """Look up by externalId each wanted resource the state lacks; take ours over.

        One filter per resource, or, when that is fewer requests, one
        listing of every resource of the type (none when the provider holds
        none: a first push). A resource found there was created by an
        earlier run that did not hear back (or lost its state): its id is
        recorded and its attributes and members are compared like those of
        any pushed resource.
        """
        quarantine = prepared.quarantine
        for keys, is_group in ((want.users, False), (want.groups, True)):
            missing = [k for k in keys if k not in self.pushed and not quarantine.protects(k)]
            if not missing:
                continue
            path = _PATHS[is_group]
            held = client.total(path) if len(missing) > 1 else 1
            if held == 0:
                continue  # nothing to take over: a first push to an empty provider
            if -(-held // self.settings.scim.page_size) < len(missing):  # fewer requests
                listed = {str(r.get("externalId")): r for r in client.every(path)}
                found = {key: listed[key] for key in missing if key in listed}
            else:
                found = {}
                for key in missing:
                    try:
                        ours = client.find(path, "externalId", key)
                    except Refused as exc:
                        self.unfindable(key, exc, prepared)
                        continue
                    found.update((key, r) for r in ours if r.get("externalId") == key)
            for key, resource in found.items():
                self.pushed[key] = self.pushed_of(resource, is_group)

    def unfindable(self, key: str, exc: Refused, prepared: Prepared) -> None:
        """Report a resource the provider cannot be searched for; hold it for this run.

        Created without the lookup, it might duplicate one an earlier run made.
        """
        prepared.quarantine.keys.add(key)
        record = prepared.desired.records.get(key, key)
        self.report.errors.append(
            RecordError(
                record,
                f"the SCIM provider refused the lookup of its externalId ({exc}): left as it "
                "is until the provider accepts the filter",
                key,
                why=Problem.DIRECTORY,
            )
        )

    def pushed_of(self, resource: dict[str, Any], is_group: bool) -> Pushed:
        """Return the state of a provider resource, as if a run had pushed it."""
        if not is_group:
            active = resource.get("active", True)
            since = None if active is not False else self.at
            return Pushed(str(resource["id"]), attribute_digests(resource), disabled_since=since)
        by_id = {pushed.id: key for key, pushed in self.pushed.items()}
        members = tuple(
            by_id[m["value"]] for m in resource.get("members") or [] if m.get("value") in by_id
        )
        name = str(resource.get("displayName", ""))
        return Pushed(str(resource["id"]), group_digests(name), members)

    def ids(self) -> dict[str, str]:
        """Return the SCIM id of every resource pushed, by key."""
        return {key: pushed.id for key, pushed in self.pushed.items()}

    def described(self, plan: ScimPlan, want: Wanted) -> list[dict[str, Any]]:
        """Return the requests of a plan as the report lists them (new ids as placeholders)."""
        ids = self.ids()
        placeholders = {
            r.key: f"<id of {r.key}>" for r in plan.requests if r.step is Step.CREATE_USER
        }
        return [self.wire(r, {**placeholders, **ids}, want) for r in plan.requests]

    def wire(self, request: Request, ids: dict[str, str], want: Wanted) -> dict[str, Any]:
        """Return one request as sent: op, method, path, record, key and body."""
        is_group = request.step in (Step.CREATE_GROUP, Step.UPDATE_GROUP, Step.DELETE_GROUP)
        base = _PATHS[is_group]
        found: dict[str, Any] = {"op": request.step.value, "record": request.record}
        found["key"] = request.key
        if request.step is Step.CREATE_USER:
            found.update(method="POST", path=f"/{base}", body=request.replace)
        elif request.step is Step.CREATE_GROUP:
            members = [ids[k] for k in request.add_members if k in ids]
            body = _group_body(request, members)
            found.update(method="POST", path=f"/{base}", body=body)
        elif request.step in (Step.DELETE_USER, Step.DELETE_GROUP):
            found.update(method="DELETE", path=f"/{base}/{ids.get(request.key, '?')}")
        else:
            operations = patch_operations(request, ids)
            found.update(method="PATCH", path=f"/{base}/{ids.get(request.key, '?')}")
            found["body"] = {"Operations": operations}
        return found

    def send(self, client: ScimClient, plan: ScimPlan, want: Wanted) -> None:
        """Send the plan's requests in order; record each answer in the state as it comes.

        Creations go through /Bulk, as many at once as the provider takes,
        when it offers bulk and `scim.bulk` is on.
        """
        batch = self.bulk_size(client, plan)
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
                self.send_bulk(client, same, want)
                index += len(same)
                continue
            index += 1
            sent = self.wire(request, self.ids(), want)
            if sent["method"] == "PATCH" and not sent["body"]["Operations"]:
                continue  # only members whose creation was refused: the next run adds them
            try:
                self.send_one(client, request, sent)
            except Refused as exc:
                self.refused(client, request, exc)
                continue
            self.report.requests.append(sent)

    def bulk_size(self, client: ScimClient, plan: ScimPlan) -> int:
        """Return how many creations one /Bulk request carries (1: no bulk)."""
        creations = sum(r.step in (Step.CREATE_USER, Step.CREATE_GROUP) for r in plan.requests)
        if not self.settings.scim.bulk or creations < 2:
            return 1
        offer = client.configuration().get("bulk") or {}
        if not offer.get("supported"):
            return 1
        return max(1, min(int(offer.get("maxOperations") or 1), _BULK_MOST))

    def send_bulk(self, client: ScimClient, requests: list[Request], want: Wanted) -> None:
        """Send creations in one /Bulk request; record each operation the provider confirms.

        An operation without an answer is not recorded: the next run finds
        its resource by externalId if the provider created it after all.
        """
        ids = self.ids()
        sent = {str(n): (r, self.wire(r, ids, want)) for n, r in enumerate(requests)}
        operations = [
            {"method": "POST", "path": wire["path"], "bulkId": bulk_id, "data": wire["body"]}
            for bulk_id, (_, wire) in sent.items()
        ]
        for answer in client.bulk(operations):
            bulk_id = str(answer.get("bulkId"))
            if bulk_id not in sent:
                continue
            request, wire = sent[bulk_id]
            status = int(str(answer.get("status") or 0)[:3] or 0)
            if 200 <= status < 300 and answer.get("location"):
                created = {"id": str(answer["location"]).rstrip("/").rsplit("/", 1)[-1]}
                self.created(request, wire, created)
                self.report.requests.append({**wire, "via": "/Bulk"})
                continue
            error = answer.get("response") or {}
            refused = Refused(status, str(error.get("scimType") or ""), str(error.get("detail")))
            self.refused(client, request, refused)

    def created(self, request: Request, wire: dict[str, Any], created: dict[str, Any]) -> None:
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

    def send_one(self, client: ScimClient, request: Request, sent: dict[str, Any]) -> None:
        step, key = request.step, request.key
        path = sent["path"].lstrip("/")
        if step in (Step.CREATE_USER, Step.CREATE_GROUP):
            self.created(request, sent, client.create(path, sent["body"]))
        elif step in (Step.DELETE_USER, Step.DELETE_GROUP):
            resource, _, id_ = path.partition("/")
            client.delete(resource, id_)
            del self.pushed[key]
            for pushed in self.pushed.values():
                if key in pushed.members:
                    pushed.members = tuple(k for k in pushed.members if k != key)
        else:
            resource, _, id_ = path.partition("/")
            if sent["body"]["Operations"]:
                client.patch(resource, id_, sent["body"]["Operations"])
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

    def refused(self, client: ScimClient, request: Request, exc: Refused) -> None:
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
            what = self.conflict(client, request, exc)
        elif exc.status == 400 and exc.scim_type in ("invalidValue", "invalidSyntax"):
            what = (
                f"the SCIM provider refused a value ({exc.scim_type}): {exc.detail}; "
                "correct the record in the source"
            )
        self.report.errors.append(
            RecordError(request.record, what, request.key, why=Problem.DIRECTORY)
        )

    def conflict(self, client: ScimClient, request: Request, exc: Refused) -> str:
        """Say who holds the unique value a creation or rename wanted (never taken over)."""
        is_user = request.step in (Step.CREATE_USER, Step.UPDATE_USER)
        attribute = "userName" if is_user else "displayName"
        value = str(request.replace.get("userName", "")) if is_user else request.display_name
        if not value:
            return f"the SCIM provider refused it as not unique: {exc.detail}"
        try:
            holders = client.find(_PATHS[not is_user], attribute, value)
        except Refused:
            holders = []
        owner = next((str(h.get("externalId") or "") for h in holders), "")
        whose = f"externalId {owner!r}" if owner else "no externalId"
        return (
            f"{attribute} {value!r} is held on the SCIM provider by a resource that is not "
            f"this service's ({whose}): left untouched; rename one of them"
        )


def _group_body(request: Request, member_ids: list[str]) -> dict[str, Any]:
    return group_payload(request.key, request.display_name, member_ids)
