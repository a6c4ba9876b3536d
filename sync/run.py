"""One sync run: read, validate, build, read the directory, plan, apply, report.

The CLI one-shot and the daemon both call `run_sync` and get a Report back;
it never raises for an expected failure, the report says what happened.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from itertools import groupby

from sync import dn as dnlib
from sync.desired import Desired, build_desired, kind_base
from sync.directory import Directory
from sync.document import SourceError, read_document
from sync.entry import Entry, Kind, key_kind
from sync.errors import (
    ConfigurationError,
    DirectoryError,
    DirectoryUnavailable,
)
from sync.incremental import Incremental, narrowed
from sync.mapping import Mapping, MappingError, load_mapping
from sync.plan import Change, Op, Plan, make_plan, without_members
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


def prepare(settings: Settings) -> Prepared:
    """Return the desired directory for the configured source; no directory access."""
    loaded = read_document(settings.source.path)
    mapping = load_mapping(settings.mapping.path)
    structure, rule_errors = apply_rules(loaded.document, loaded.quarantine)
    desired = build_desired(
        structure, settings.layout, settings.ldap.base_dn, mapping, loaded.quarantine
    )
    errors = [*loaded.errors, *rule_errors, *desired.errors]
    return Prepared(mapping, desired, loaded.quarantine, errors)


def read_current(
    directory: Directory, settings: Settings, mapping: Mapping, keys: Collection[str] | None = None
) -> list[Entry]:
    """Return every entry in the managed subtrees that carries this service's identity.

    With `keys`, return only the entries carrying one of these keys.
    """
    bases = [kind_base(settings.layout, settings.ldap.base_dn, kind) for kind in Kind]
    entries = []
    found = (
        directory.read_managed(
            bases, mapping.identity_attribute, mapping.identity_prefix, mapping.attributes_read()
        )
        if keys is None
        else directory.read_identities(
            bases,
            mapping.identity_attribute,
            [mapping.identity_value(key) for key in keys],
            mapping.attributes_read(),
        )
    )
    for dn, attributes in found:
        keys = [
            k for v in attributes.get(mapping.identity_attribute, ()) if (k := mapping.key_of(v))
        ]
        if keys:
            entries.append(Entry(keys[0], dn, attributes))
    return entries


def plan_run(
    directory: Directory,
    settings: Settings,
    prepared: Prepared,
    keys: Collection[str] | None = None,
) -> Plan:
    """Return the plan that brings the directory to the prepared desired state.

    With `keys` (an incremental run), read and plan only the entries with these keys.
    """
    directory.require_base(settings.ldap.base_dn)
    current = read_current(directory, settings, prepared.mapping, keys)
    existing = [dn for dn in prepared.desired.containers if directory.exists(dn)]
    desired = prepared.desired if keys is None else narrowed(prepared.desired, keys)
    return make_plan(desired, current, existing, prepared.mapping, prepared.quarantine)


def _stage(change: Change) -> tuple[str, bool]:
    """Return the stage of a change: every change of a stage may be in flight at once."""
    is_group = change.key is not None and key_kind(change.key).is_group
    op = "write" if change.op in (Op.ADD, Op.MODIFY) else change.op.value
    return op, is_group


def apply_plan(
    directory: Directory, plan: Plan, mapping: Mapping, report: Report, window: int = 1
) -> set[str]:
    """Apply the plan stage by stage, pipelined within a stage; return the keys left unsettled.

    The plan's order holds across stages: a stage starts when the one before
    has all its answers (containers, renames, users, groups, deletes).
    Containers and renames go one at a time. A refused change is a record
    error, not the end; its key, and those of groups that had to leave out
    a refused user, are returned as not in their desired state.
    """
    refused: set[str] = set()
    unsettled: set[str] = set()
    for _, stage in groupby(plan.changes, key=_stage):
        batch: list[Change] = []
        for planned in stage:
            change: Change | None = planned
            if planned.key is not None:
                members = mapping.kinds[key_kind(planned.key)].members
                if members:
                    change = without_members(planned, refused, members)
                    if change != planned:
                        unsettled.add(planned.key)
            if change is not None:
                batch.append(change)
        if not batch:
            continue
        width = window if batch[0].op in (Op.ADD, Op.MODIFY, Op.DELETE) else 1
        for change, refusal in directory.apply_pipelined(batch, width):
            if refusal is None:
                report.changes.append(change)
                continue
            record = change.key or change.dn
            report.errors.append(RecordError(record, str(refusal)))
            if change.key:
                unsettled.add(change.key)
            if change.op is Op.ADD:
                refused.add(dnlib.normalize_dn(change.dn))
            log.warning("skipped %s: %s", record, refusal)
    return unsettled


def run_sync(settings: Settings, *, dry_run: bool = False, full: bool = False) -> Report:
    """Run one sync and return its report; `full` reads every managed entry."""
    report = Report(dry_run=dry_run)
    try:
        cache = Incremental.start(settings, full=full)
        if cache.source_unchanged():
            log.info("the source is the one the last clean run applied: nothing to do")
            report.managed = cache.managed()
        else:
            prepared = prepare(settings)
            report.errors.extend(prepared.errors)
            report.managed = dict(Counter(key_kind(k).value for k in prepared.desired.entries))
            keys = cache.keys_to_read(prepared.desired, prepared.quarantine)
            with Directory.open(settings.ldap) as directory:
                plan = plan_run(directory, settings, prepared, keys)
                report.errors.extend(plan.errors)
                if dry_run:
                    report.changes.extend(plan.changes)
                else:
                    window = settings.performance.write_window
                    unsettled = apply_plan(directory, plan, prepared.mapping, report, window)
            if not dry_run:
                cache.save(prepared.quarantine, plan, report, unsettled)
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
