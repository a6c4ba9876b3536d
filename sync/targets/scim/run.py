"""One SCIM run: read the source, look up what the state lacks, plan, guard, send (send.py).

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
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sync import clock, stop
from sync.core.digest import fingerprint
from sync.core.entry import EntryKey
from sync.core.guard import held_reason
from sync.core.problems import Problem, RecordError
from sync.core.report import STOPPING, Outcome, Report, outcome_of
from sync.errors import LockBusy
from sync.ldap.flavour import load_mapping
from sync.progress import Progress
from sync.run.lock import FileLock
from sync.run.prepare import Prepared, prepare
from sync.run.sync import finished
from sync.settings import Settings
from sync.sources.reader import source_of
from sync.targets.scim.client import Refused, ScimClient
from sync.targets.scim.plan import (
    Pushed,
    ScimPlan,
    Step,
    group_digests,
    make_plan,
)
from sync.targets.scim.resources import (
    Wanted,
    attribute_digests,
    wanted,
)
from sync.targets.scim.send import PATHS, Sender, wire
from sync.targets.scim.state import Applied, load_state, save_pushed

log = logging.getLogger("portal_sync.scim")

LOCK_FILE = "scim.lock"


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
    full: bool = False,
    **_ignored: Any,
) -> Report:
    """Push the users and groups to the SCIM provider; return the report (never raises).

    `allow_deletions` approves that many disables and deletions past the
    deletion guard; `now` is the clock of the retention of disabled users;
    `full` reads the source even when the last clean run pushed it as it is.
    """
    report = Report(started=clock.now(), dry_run=dry_run, target="scim")
    try:
        _ScimRun(settings, report, now or report.started, progress or Progress()).run(
            allow_deletions, full
        )
    except STOPPING as exc:
        report.fail(outcome_of(exc), str(exc))
    except Refused as exc:  # a refusal no record stands behind
        report.fail(Outcome.TARGET_UNAVAILABLE, f"the SCIM provider refused the run: {exc}")
    return finished(report, log)


class _ScimRun:
    """One run of `run_scim`: the source side, the state, the client and the report."""

    def __init__(self, settings: Settings, report: Report, at: datetime, progress: Progress):
        self.settings = settings
        self.report = report
        self.at = at
        self.progress = progress
        self.pushed: dict[str, Pushed] = {}

    def run(self, allow_deletions: int | None, full: bool) -> None:
        settings, report = self.settings, self.report
        url = settings.scim.url
        self.pushed, applied = load_state(settings.state_dir, url)
        source = source_of(settings.source, settings.state_dir)
        mapping = load_mapping(settings.mapping.path, settings.mapping.values)
        now = Applied(source.digest(), fingerprint(url, settings.tree, mapping, settings.rules))
        if not full and self.unchanged(applied, now):
            log.info("the source is the one the last clean SCIM run pushed: nothing to do")
            report.managed = dict(applied.managed) if applied else {}
            return
        prepared = prepare(
            settings, self.progress, source=source, mapping=mapping, keep_verdicts=True
        )
        report.errors.extend(prepared.errors)
        report.decisions = prepared.decisions
        stop.requested.check()
        assert prepared.verdicts is not None
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
            clean = False
            try:
                Sender(client, self.pushed, report, self.at).send(plan)
                clean = report.failure is None and not report.errors
            finally:
                done = replace(now, managed=dict(report.managed)) if clean else None
                if warning := save_pushed(settings.state_dir, url, self.pushed, done):
                    report.warnings.append(warning)

    def unchanged(self, applied: Applied | None, now: Applied) -> bool:
        """Return whether the last clean run pushed this very source with these settings,
        and no disabled user's retention has ended since: nothing to do."""
        if applied is None or not now.source:
            return False
        if (applied.source, applied.fingerprint) != (now.source, now.fingerprint):
            return False
        retention = timedelta(days=self.settings.safety.retention_days)
        return not any(
            pushed.disabled_since is not None and pushed.disabled_since + retention <= self.at
            for pushed in self.pushed.values()
        )

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
            path = PATHS[is_group]
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
        return [wire(r, {**placeholders, **ids}) for r in plan.requests]
