"""One sync run: read, validate, build, read the directory, plan, apply, report.

The CLI one-shot and the daemon both call `run_sync` and get a Report back;
it never raises for an expected failure, the report says what happened.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sync import dn as dnlib
from sync.desired import Desired, build_desired, kind_base
from sync.directory import Directory
from sync.document import SourceError, read_document
from sync.entry import Entry, Kind, key_kind
from sync.errors import (
    AlreadyExists,
    ConfigurationError,
    DirectoryError,
    DirectoryUnavailable,
    EntryRejected,
    NoSuchEntry,
)
from sync.guard import guard_reason
from sync.mapping import Mapping, MappingError, load_mapping
from sync.passwords import SourceAccount, counted, settle_passwords, source_accounts
from sync.plan import Op, Plan, make_plan, without_members
from sync.problems import Quarantine, RecordError
from sync.report import Outcome, Report
from sync.rules import apply_rules
from sync.settings import Settings

log = logging.getLogger("portal_sync")


@dataclass
class Prepared:
    """The source side of a run: the desired entries and what the source got wrong."""

    mapping: Mapping
    desired: Desired
    quarantine: Quarantine
    errors: list[RecordError]
    accounts: dict[str, SourceAccount] = field(default_factory=dict)


def prepare(settings: Settings) -> Prepared:
    """Return the desired directory for the configured source; no directory access."""
    loaded = read_document(settings.source.path)
    mapping = load_mapping(settings.mapping.path)
    structure, rule_errors = apply_rules(loaded.document, loaded.quarantine)
    desired = build_desired(
        structure, settings.layout, settings.ldap.base_dn, mapping, loaded.quarantine
    )
    errors = [*loaded.errors, *rule_errors, *desired.errors]
    document = loaded.document
    if not document.customers and not document.internal_users:
        loaded.quarantine.kinds.update(kind.value for kind in Kind)
        errors.append(
            RecordError(
                "source document",
                "it holds no customer and no internal user; treated as a broken export, "
                "nothing is deleted or disabled",
            )
        )
    accounts = source_accounts(structure)
    return Prepared(mapping, desired, loaded.quarantine, errors, accounts)


def read_current(directory: Directory, settings: Settings, mapping: Mapping) -> list[Entry]:
    """Return every entry in the managed subtrees that carries this service's identity."""
    bases = [kind_base(settings.layout, settings.ldap.base_dn, kind) for kind in Kind]
    bases.append(f"{settings.layout.disabled_ou},{settings.ldap.base_dn}")
    entries = []
    for dn, attributes in directory.read_managed(
        bases, mapping.identity_attribute, mapping.identity_prefix, mapping.attributes_read()
    ):
        keys = [
            k for v in attributes.get(mapping.identity_attribute, ()) if (k := mapping.key_of(v))
        ]
        if keys:
            entries.append(Entry(keys[0], dn, attributes))
    return entries


def plan_run(
    directory: Directory, settings: Settings, prepared: Prepared, now: datetime | None = None
) -> Plan:
    """Return the plan that brings the directory to the prepared desired state."""
    directory.require_base(settings.ldap.base_dn)
    current = read_current(directory, settings, prepared.mapping)
    existing = [dn for dn in prepared.desired.containers if directory.exists(dn)]
    return make_plan(
        prepared.desired,
        current,
        existing,
        prepared.mapping,
        prepared.quarantine,
        now=now,
        retention=timedelta(days=settings.safety.retention_days),
    )


def apply_plan(directory: Directory, plan: Plan, prepared: Prepared, report: Report) -> None:
    """Apply the plan change by change; a refused change is a record error, not the end."""
    mapping = prepared.mapping
    refused: set[str] = set()
    for planned in plan.changes:
        change = planned
        if change.key is not None:
            members = mapping.kinds[key_kind(change.key)].members
            if members:
                change = without_members(change, refused, members)  # type: ignore[assignment]
                if change is None:
                    continue
        try:
            directory.apply(change)
        except (AlreadyExists, EntryRejected, NoSuchEntry) as exc:
            record = prepared.desired.records.get(change.key or "", change.key or change.dn)
            problem = str(exc)
            if isinstance(exc, AlreadyExists):
                problem = (
                    f"collision: {exc} (an entry portal-sync does not own, or one of a record "
                    "in error); skipped, the existing entry is left untouched"
                )
            report.errors.append(RecordError(record, problem))
            if change.op is Op.ADD:
                refused.add(dnlib.normalize_dn(change.dn))
            log.warning("skipped %s: %s", record, exc)
            continue
        report.changes.append(change)


def settle_run_passwords(
    directory: Directory, settings: Settings, prepared: Prepared, plan: Plan, report: Report
) -> None:
    """Set the passwords the settings ask for, after the entries were applied."""
    steps, errors = settle_passwords(
        directory,
        settings,
        prepared.accounts,
        prepared.desired.entries,
        plan.changes,
        report.changes,
    )
    report.passwords = counted(steps)
    records = prepared.desired.records
    report.errors.extend(RecordError(records.get(e.record, e.record), e.problem) for e in errors)


def run_sync(
    settings: Settings,
    *,
    dry_run: bool = False,
    allow_deletions: int | None = None,
    now: datetime | None = None,
) -> Report:
    """Run one sync and return its report.

    `allow_deletions` approves up to that many deletions and disables past
    the deletion guard; `now` is the clock for the retention of disabled users.
    """
    report = Report(dry_run=dry_run)
    try:
        prepared = prepare(settings)
        report.errors.extend(prepared.errors)
        with Directory.open(settings.ldap) as directory:
            plan = plan_run(directory, settings, prepared, now)
            report.errors.extend(plan.errors)
            held = guard_reason(plan, settings.safety, allow_deletions)
            if held:
                report.pending.extend(plan.destructive())
                report.fail(
                    Outcome.DELETION_GUARD,
                    f"{held}; nothing was applied. Review the pending changes, then approve "
                    f"with: portal-sync run --allow-deletions {len(report.pending)}",
                )
                if dry_run:
                    report.changes.extend(plan.changes)
            elif dry_run:
                report.changes.extend(plan.changes)
            else:
                apply_plan(directory, plan, prepared, report)
                settle_run_passwords(directory, settings, prepared, plan, report)
        report.managed = dict(Counter(key_kind(k).value for k in prepared.desired.entries))
    except SourceError as exc:
        report.fail(Outcome.SOURCE, str(exc))
    except (MappingError, ConfigurationError) as exc:
        report.fail(Outcome.CONFIGURATION, str(exc))
    except DirectoryUnavailable as exc:
        report.fail(Outcome.UNAVAILABLE, str(exc))
    except DirectoryError as exc:
        report.fail(Outcome.DIRECTORY, str(exc))
    report.finish()
    log.info("%s", report.to_text(verbose=False))
    return report
