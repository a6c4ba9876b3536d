"""Incremental runs: read and write only what changed; the state is a cache, never the truth."""

from __future__ import annotations

import copy
import logging
import subprocess
from datetime import UTC, datetime, time, timedelta

import pytest

from benchmarks.generate import add_one_person, change_one_person, generate, mutate
from sync.core.change import Change, Op, Reason
from sync.core.digest import (
    PENDING,
    RunRecord,
    State,
    after_run,
    entry_digest,
    full_due,
    stale_keys,
)
from sync.core.entry import Entry
from sync.core.problems import Quarantine
from sync.core.report import Report
from sync.ldap.directory import Directory
from sync.ldap.flavour import load_mapping
from sync.run.current import read_current
from sync.run.state import FILE_NAME, load_state, save_state
from sync.run.sync import run_sync


class Calls:
    """Counts the directory reads and writes of a run."""

    def __init__(self, monkeypatch):
        self.full_reads = 0
        self.keys_read: list[str] = []
        self.writes: list[Change] = []
        full, keyed, pipelined = (
            Directory.read_managed,
            Directory.read_identities,
            Directory.apply_pipelined,
        )

        def read_managed(directory, *args, **kwargs):
            self.full_reads += 1
            return full(directory, *args, **kwargs)

        def read_identities(directory, bases, attribute, values, *args, **kwargs):
            values = list(values)
            self.keys_read.extend(values)
            return keyed(directory, bases, attribute, values, *args, **kwargs)

        def apply_pipelined(directory, changes, window):
            changes = list(changes)
            self.writes.extend(changes)
            return pipelined(directory, changes, window)

        monkeypatch.setattr(Directory, "read_managed", read_managed)
        monkeypatch.setattr(Directory, "read_identities", read_identities)
        monkeypatch.setattr(Directory, "apply_pipelined", apply_pipelined)


def tree(settings) -> dict[str, dict[str, list[str]]]:
    """Return the managed entries: DN (lower case) to sorted attribute values."""
    with Directory.open(settings.ldap) as directory:
        entries = read_current(directory, settings, load_mapping(settings.mapping.path))
    return {
        e.dn.lower(): {name: sorted(values) for name, values in e.attributes.items()}
        for e in entries
    }


def entry(key: str, mail: str = "a@x") -> Entry:
    return Entry(key, f"uid={key},dc=x", {"mail": (mail,)})


def test_an_entry_digest_changes_with_any_value_or_the_dn():
    base = entry("external:1")
    assert entry_digest(base) == entry_digest(entry("external:1"))
    assert entry_digest(base) != entry_digest(entry("external:1", "b@x"))
    assert entry_digest(base) != entry_digest(Entry("external:1", "uid=y,dc=x", base.attributes))
    assert entry_digest(Entry("k:1", "d", {"a": ("b", "c")})) != entry_digest(
        Entry("k:1", "d", {"a": ("b",), "c": ()})
    )


def test_stale_keys_are_changed_new_gone_and_quarantined_entries():
    previous = {"a": "1", "b": "2", "gone": "3", "bad": "4", "pending": PENDING}
    digests = {"a": "1", "b": "changed", "new": "5", "pending": "6"}
    assert stale_keys(previous, digests, {"bad", "never-written"}) == {
        "b",
        "new",
        "gone",
        "bad",
        "pending",
    }


def test_after_a_run_refused_and_undeleted_entries_are_pending_and_disabled_users_retained():
    clock = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    since = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    mapping = load_mapping("openldap")
    marker = f"portal-sync:disabled-since:{since.isoformat()}"

    def gone(key, *identity):
        return Entry(
            key, f"uid={key},dc=x", {"businesscategory": (f"portal-sync:{key}", *identity)}
        )

    digests = {
        "external:ok": "1",
        "external:refused": "2",
        "customer:trimmed": "3",
        "external:back": "4",
    }
    seen = {
        key: gone(key)
        for key in ("external:deleted", "group:left", "external:now", "external:refused-disable")
    }
    seen["external:old"] = gone("external:old", marker)
    report = Report(
        clock,
        changes=[
            Change(Op.DELETE, "uid=d,dc=x", "external:deleted"),
            Change(Op.MODIFY, "uid=n,dc=x", "external:now", reason=Reason.DISABLE),
        ],
    )
    previous = State(
        "f",
        clock,
        retained={"external:waiting": "2026-12-01T00:00:00+00:00", "external:back": "x"},
    )
    entries, retained = after_run(
        previous,
        RunRecord(
            clock,
            timedelta(days=30),
            digests,
            seen,
            report,
            Quarantine(keys={"external:bad"}),
            {"external:refused", "customer:trimmed", "external:refused-disable"},
        ),
        mapping,
    )
    assert entries == {
        "external:ok": "1",
        "external:refused": PENDING,
        "customer:trimmed": PENDING,
        "external:back": "4",
        "group:left": PENDING,
        "external:refused-disable": PENDING,
        "external:bad": PENDING,
    }
    assert retained == {
        "external:waiting": "2026-12-01T00:00:00+00:00",
        "external:old": (since + timedelta(days=30)).isoformat(),
        "external:now": (clock + timedelta(days=30)).isoformat(),
    }


def test_the_nightly_reconciliation_is_due_once_a_day_after_its_time():
    at = time(3, 0)
    local = datetime(2026, 11, 22, 12, 0).astimezone()
    assert not full_due(local.replace(hour=4), local, at)
    assert full_due(local.replace(hour=2), local, at)
    assert full_due(local - timedelta(days=1), local, at)
    early = local.replace(hour=2)
    assert not full_due(early - timedelta(hours=20), early, at)
    assert full_due(early - timedelta(hours=24), early, at)


def test_a_saved_state_reads_back(tmp_path):
    state = State("f", datetime(2026, 1, 1, tzinfo=UTC), "s", True, {"order": 2}, {"a": "1"})
    save_state(tmp_path, state)
    assert load_state(tmp_path) == state


@pytest.mark.parametrize(
    "text", ["", "{not json", "[]", '{"format": 99}', '{"format": 1, "entries": {}}', "\xff"]
)
def test_a_corrupt_state_file_is_ignored_with_a_warning(tmp_path, caplog, text):
    (tmp_path / FILE_NAME).write_text(text, encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="portal_sync"):
        assert load_state(tmp_path) is None
    assert "ignoring the incremental state" in caplog.text


@pytest.mark.slapd
def test_a_run_with_no_change_makes_no_write_and_no_read(settings_for, monkeypatch):
    settings = settings_for(generate("XS", seed=21))
    assert run_sync(settings).ok
    calls = Calls(monkeypatch)
    report = run_sync(settings)
    assert report.ok and report.counts() == {}
    assert (calls.full_reads, calls.keys_read, calls.writes) == (0, [], [])
    assert sum(report.managed.values()) > 0


@pytest.mark.slapd
def test_a_source_change_that_changes_no_entry_reads_no_entry(settings_for, monkeypatch):
    document = generate("XS", seed=22)
    assert run_sync(settings_for(document)).ok
    hidden = next(order for order in document["orders"] if not order["portal_visible"])
    hidden["name"] = "renamed but still not on the portal"
    calls = Calls(monkeypatch)
    report = run_sync(settings_for(document))
    assert report.ok and report.counts() == {}
    assert (calls.full_reads, calls.keys_read, calls.writes) == (0, [], [])


@pytest.mark.slapd
def test_one_changed_email_reads_and_writes_that_person_only(settings_for, monkeypatch):
    document = generate("XS", seed=23)
    assert run_sync(settings_for(document)).ok
    person = change_one_person(document)
    calls = Calls(monkeypatch)
    report = run_sync(settings_for(document))
    assert report.ok and report.counts() == {"modify": 1}
    assert calls.full_reads == 0
    assert calls.keys_read == [f"portal-sync:external:{person}"]
    assert [change.key for change in calls.writes] == [f"external:{person}"]


@pytest.mark.slapd
def test_a_new_person_costs_one_add_and_one_member_add_per_group(settings_for, monkeypatch):
    document = generate("XS", seed=24)
    settings = settings_for(document)
    assert run_sync(settings).ok
    person = add_one_person(document, seed=3)
    calls = Calls(monkeypatch)
    report = run_sync(settings_for(document))
    assert report.ok and not report.errors
    (added,) = [c for c in report.changes if c.op is Op.ADD]
    assert added.key == f"external:{person}"
    modifies = [c for c in report.changes if c.op is Op.MODIFY]
    assert len(report.changes) == 1 + len(modifies)
    assert modifies and all(
        c.add_values == {"member": (added.dn,)} and not c.replace and not c.delete_values
        for c in modifies
    )
    assert calls.full_reads == 0
    members = [{m.lower() for m in e.get("member", [])} for e in tree(settings).values()]
    assert sum(added.dn.lower() in group for group in members) == len(modifies)


@pytest.mark.slapd
def test_a_change_made_by_hand_is_caught_by_a_full_run_only(settings_for, slapd):
    document = generate("XS", seed=25)
    settings = settings_for(document)
    assert run_sync(settings).ok
    user = next(dn for dn, e in tree(settings).items() if dn.startswith("uid=") and e.get("mail"))
    slapd.ldapmodify(f"dn: {user}\nchangetype: modify\nreplace: mail\nmail: by.hand@example.org\n")
    assert tree(settings)[user]["mail"] == ["by.hand@example.org"]
    assert run_sync(settings).counts() == {}
    repaired = run_sync(settings, full=True)
    assert repaired.counts() == {"modify": 1}
    assert tree(settings)[user]["mail"] != ["by.hand@example.org"]
    assert run_sync(settings).counts() == {}


@pytest.mark.slapd
def test_deleting_the_state_changes_nothing_but_time(settings_for, slapd, tmp_path):
    from conftest import empty_tree

    before = generate("XS", seed=26)
    after = copy.deepcopy(before)
    mutate(after, 0.1, seed=5)
    change_one_person(after, 3)
    first, second = datetime.now(UTC), datetime.now(UTC) + timedelta(minutes=5)

    kept = settings_for(before, state_dir=tmp_path / "kept")
    run_sync(kept, now=first)
    with_state = run_sync(settings_for(after, state_dir=tmp_path / "kept"), now=second)
    tree_with_state = tree(kept)

    empty_tree(slapd)
    lost = settings_for(before, state_dir=tmp_path / "lost")
    run_sync(lost, now=first)
    subprocess.run(["rm", "-rf", str(tmp_path / "lost")], check=True)
    without_state = run_sync(settings_for(after, state_dir=tmp_path / "lost"), now=second)

    assert with_state.ok and without_state.ok
    assert with_state.counts() == without_state.counts()
    assert with_state.counts().get("modify") and with_state.counts().get("rename")
    assert tree(lost) == tree_with_state


@pytest.mark.slapd
def test_a_corrupt_state_file_makes_a_full_and_correct_run(settings_for, caplog):
    document = generate("XS", seed=27)
    settings = settings_for(document)
    assert run_sync(settings).ok
    (settings.state_dir / FILE_NAME).write_text('{"format": 1, "entries": [', encoding="utf-8")
    change_one_person(document)
    with caplog.at_level(logging.INFO, logger="portal_sync"):
        report = run_sync(settings_for(document))
    assert "ignoring the incremental state" in caplog.text
    assert "full reconciliation" in caplog.text
    assert report.ok and report.counts() == {"modify": 1}
    assert run_sync(settings_for(document)).counts() == {}


@pytest.mark.slapd
def test_a_dry_run_leaves_the_state_alone(settings_for):
    document = generate("XS", seed=28)
    settings = settings_for(document)
    assert run_sync(settings, dry_run=True).counts()
    assert not (settings.state_dir / FILE_NAME).exists()
    assert run_sync(settings).counts()["add"]


@pytest.mark.slapd
def test_the_deletion_guard_weighs_an_incremental_run_against_every_managed_entry(
    settings_for,
):
    document = generate("S", seed=29)
    assert run_sync(settings_for(document)).ok
    leaving = [
        p
        for c in document["customers"]
        if c["remote_access"]
        for p in c["persons"]
        if p.get("account", {}).get("enabled")
    ][:15]
    for person in leaving:
        del person["account"]
    report = run_sync(settings_for(document))
    assert report.ok, report.to_text()
    disabled = [c for c in report.changes if c.op is Op.RENAME]
    assert len(disabled) == len(leaving)


@pytest.mark.slapd
def test_a_person_who_leaves_is_disabled_and_comes_back_in_incremental_runs(settings_for):
    document = generate("XS", seed=30)
    settings = settings_for(document)
    assert run_sync(settings).ok
    person = next(
        p
        for c in document["customers"]
        if c["remote_access"]
        for p in c["persons"]
        if p.get("account")
    )
    account = person.pop("account")
    gone = run_sync(settings_for(document))
    assert gone.ok and not gone.errors
    moved = [c.new_dn for c in gone.changes if c.op is Op.RENAME]
    assert len(moved) == 1 and ",ou=disabled," in moved[0]
    person["account"] = account
    back = run_sync(settings_for(document))
    assert back.ok and not back.errors
    assert any(c.op is Op.RENAME and ",ou=external," in (c.new_dn or "") for c in back.changes)
    assert run_sync(settings_for(document), full=True).counts() == {}


@pytest.mark.slapd
def test_a_disabled_user_is_deleted_by_the_first_incremental_run_after_its_retention(
    settings_for, monkeypatch
):
    document = generate("XS", seed=31)
    noon = datetime.now().astimezone().replace(hour=12, minute=0, second=0, microsecond=0)
    retention = {"retention_days": 0.01}
    assert run_sync(settings_for(document, safety=retention), now=noon).ok
    person = next(
        p
        for c in document["customers"]
        if c["remote_access"]
        for p in c["persons"]
        if p.get("account")
    )
    del person["account"]
    settings = settings_for(document, safety=retention)
    disabled = run_sync(settings, now=noon + timedelta(minutes=1))
    assert [c.reason for c in disabled.changes if c.op is Op.RENAME] == [Reason.DISABLE]
    calls = Calls(monkeypatch)
    waiting = run_sync(settings, now=noon + timedelta(minutes=5))
    assert waiting.counts() == {} and calls.keys_read == [] and calls.full_reads == 0
    expired = run_sync(settings, now=noon + timedelta(minutes=20))
    assert [(c.op, c.reason) for c in expired.changes] == [(Op.DELETE, Reason.RETENTION_EXPIRED)]
    assert calls.full_reads == 0 and calls.keys_read == [f"portal-sync:external:{person['id']}"]
