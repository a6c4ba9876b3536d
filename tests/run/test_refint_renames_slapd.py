"""slapd's refint rewrites member values late: a run whose renames hand a login on stays right.

refint rewrites the member values naming a renamed entry in a background
task after the modrdn has returned, so its rewrite can land after the run
wrote the same DN for the entry that took the login. The test plays refint
itself, deterministically, on a slapd without the overlay: every rename's
rewrite (old DN -> new DN in every member value, in the order of the
renames, as the rootdn) lands as late as it can do harm, right after the
run's group writes. The groups must end naming the right person's entry.
"""

from __future__ import annotations

import re

import pytest
from ldap3 import MODIFY_REPLACE, SUBTREE

from sync.core.change import Change, Op
from sync.core.entry import EntryKey
from sync.ldap.directory import Directory
from sync.run.sync import run_sync

from directory_view import connect

PERSON = re.compile(r"portal-sync:(?:external|internal):(\S+)$")


def sync(settings, **kwargs):
    report = run_sync(settings, **kwargs)
    assert report.failure is None, report.failure
    assert not report.errors, report.errors
    return report


def memberships(server):
    """Return {group cn: record ids of its members}; a value naming no user counts as itself."""
    with connect(server) as conn:
        conn.search(
            server.suffix,
            "(businessCategory=portal-sync:*)",
            SUBTREE,
            attributes=["businessCategory", "member", "cn"],
        )
        people = {}
        groups = {}
        for entry in conn.entries:
            for value in entry["businessCategory"].values:
                found = PERSON.match(value)
                if found:
                    people[entry.entry_dn.lower()] = found.group(1)
            if entry["member"].values:
                groups[entry["cn"].values[0]] = [m.lower() for m in entry["member"].values]
    return {name: {people.get(m, m) for m in members} for name, members in groups.items()}


def rewrite(server, old, new):
    """Do what refint does for one rename: every member value naming `old` names `new`."""
    with connect(server) as conn:
        conn.search(server.suffix, f"(member={old})", SUBTREE, attributes=["member"])
        for entry in list(conn.entries):
            values = [new if v.lower() == old.lower() else v for v in entry["member"].values]
            unique = list(dict.fromkeys(values))
            assert conn.modify(entry.entry_dn, {"member": [(MODIFY_REPLACE, unique)]}), conn.result


def writes_members(change: Change) -> bool:
    return (
        change.key is not None
        and EntryKey.kind(change.key).is_group
        and change.op in (Op.ADD, Op.MODIFY)
        and bool(change.add_values or change.replace)
    )


def playing_refint(slapd, monkeypatch, during_the_run: bool) -> list[tuple[str, str]]:
    """Record each rename; play its rewrite right after the run's next group writes, or keep
    it pending (the list returned) when not `during_the_run`."""
    original = Directory.apply_pipelined
    pending: list[tuple[str, str]] = []

    def playing(self, changes, window):
        changes = list(changes)
        for change, refusal in original(self, changes, window):
            if refusal is None and change.op is Op.RENAME and change.key is not None:
                pending.append((change.dn, change.new_dn))
            yield change, refusal
        if during_the_run and any(writes_members(change) for change in changes):
            while pending:
                rewrite(slapd, *pending.pop(0))

    monkeypatch.setattr(Directory, "apply_pipelined", playing)
    return pending


@pytest.fixture
def late_refint(slapd, monkeypatch):
    """Play refint on the plain slapd: each rename's rewrite lands after the run's group writes."""
    pending = playing_refint(slapd, monkeypatch, during_the_run=True)
    yield
    assert not pending  # every rename came before the run's last group write


def person(seed, person_id):
    for customer in seed["customers"]:
        for record in customer["persons"]:
            if record["id"] == person_id:
                return record
    raise KeyError(person_id)


def login_of(server, person_id):
    with connect(server) as conn:
        conn.search(
            server.suffix,
            f"(businessCategory=portal-sync:external:{person_id})",
            SUBTREE,
            attributes=["uid"],
        )
        return [
            entry["uid"].value for entry in conn.entries if ",ou=disabled," not in entry.entry_dn
        ]


def test_a_login_swap_between_two_customers_survives_late_rewrites(
    slapd, settings_for, seed, late_refint
):
    sync(settings_for(seed))
    before = memberships(slapd)
    person(seed, "P-1")["account"]["login"] = "jsilva"  # customer 10001
    person(seed, "P-10")["account"]["login"] = "cdubois"  # customer 10002
    person(seed, "P-3")["account"]["login"] = "sophie.martin"
    person(seed, "P-20")["account"]["login"] = "peter.braun"
    sync(settings_for(seed))
    assert login_of(slapd, "P-1") == ["jsilva"] and login_of(slapd, "P-10") == ["cdubois"]
    assert memberships(slapd) == before
    assert sync(settings_for(seed), full=True).changes == []


def test_a_login_freed_by_a_disable_and_taken_survives_late_rewrites(
    slapd, settings_for, seed, late_refint
):
    sync(settings_for(seed))
    before = memberships(slapd)
    person(seed, "P-11")["account"]["enabled"] = False  # acosta, of the agency
    seed["customers"][0]["persons"].append(
        {
            "id": "P-21",
            "last_name": "Costa",
            "contact_types": ["ct-achats"],
            "account": {"login": "acosta", "enabled": True},
        }
    )
    sync(settings_for(seed))
    expected = {name: members - {"P-11"} for name, members in before.items()}
    for name, members in before.items():
        if "P-2" in members:  # P-21 is a buyer of customer 10001, as P-2 is
            expected[name].add("P-21")
    assert login_of(slapd, "P-21") == ["acosta"]
    assert memberships(slapd) == expected
    assert sync(settings_for(seed), full=True).changes == []


def test_a_rewrite_later_than_the_run_is_repaired_by_the_next_incremental_run(
    slapd, settings_for, seed, monkeypatch
):
    sync(settings_for(seed))
    before = memberships(slapd)
    person(seed, "P-1")["account"]["login"] = "jsilva"
    person(seed, "P-10")["account"]["login"] = "cdubois"
    pending = playing_refint(slapd, monkeypatch, during_the_run=False)
    sync(settings_for(seed))
    assert memberships(slapd) == before
    while pending:  # refint's queue worked off after the run had ended
        rewrite(slapd, *pending.pop(0))
    assert memberships(slapd) != before  # a swap's rewrites swap the two users again
    report = sync(settings_for(seed))
    assert memberships(slapd) == before
    assert report.changes and all(c.op.value == "modify" for c in report.changes)
    assert sync(settings_for(seed)).changes == []


def test_a_chain_of_logins_handed_on_survives_late_rewrites(slapd, settings_for, seed, late_refint):
    sync(settings_for(seed))
    before = memberships(slapd)
    person(seed, "P-1")["account"]["login"] = "jsilva"  # 10001 takes the agency's login,
    person(seed, "P-10")["account"]["login"] = "pbraun"  # which takes 10003's login,
    person(seed, "P-20")["account"]["login"] = "peter.braun"  # which takes a new one
    sync(settings_for(seed))
    assert login_of(slapd, "P-1") == ["jsilva"] and login_of(slapd, "P-10") == ["pbraun"]
    assert memberships(slapd) == before
    assert sync(settings_for(seed), full=True).changes == []
