"""Entries portal-sync does not own get none of its access (real slapd with refint+memberof).

A hand-made entry may carry the identity value of a managed user (a cloned
LDIF) or hold the login of one (a test account in the other OU). Neither
takes a membership from the user portal-sync created, in incremental and
full runs alike; both are reported, and `access --compare` calls them drift.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ldap3 import MODIFY_REPLACE
from portal_helpers import write_config

from sync.cli import main
from sync.core.change import Op
from sync.ldap.localserver import LocalServer
from sync.run.sync import run_sync
from sync.settings import Settings

from conftest import empty_tree, settings_factory
from directory_view import connect, entries, groups, users

pytestmark = pytest.mark.slapd

ORDERS = "ou=orders,ou=groups"
CUSTOMERS = "ou=customers,ou=groups"
ROLES = "ou=roles,ou=groups"
LUMIERE = "X10001-Éditions Lumière"
LUMIERE_ORDERS = ("order-_20261120_001", "order-RA_4726")
OPERATIONAL = {"entryuuid", "entrycsn", "memberof", "createtimestamp", "modifytimestamp"}


@pytest.fixture
def overlay(overlay_server: LocalServer) -> LocalServer:
    """Return the slapd with refint and memberof, with an empty tree."""
    empty_tree(overlay_server)
    return overlay_server


@pytest.fixture
def settings_for(overlay: LocalServer, tmp_path: Path) -> Callable[..., Settings]:
    """Return a settings factory for the overlay slapd, as its rootdn."""
    return settings_factory(overlay, overlay.root_dn, overlay.root_pw, tmp_path)


def sync(settings: Settings, **kwargs: Any):
    report = run_sync(settings, **kwargs)
    assert report.ok, report.failure
    return report


def ext(server: LocalServer, login: str, ou: str = "ou=external") -> str:
    return f"uid={login},{ou},{server.suffix}"


def cli(settings: Settings, capsys, *args: str) -> tuple[int, str]:
    """Run `portal-sync ARGS` with the settings; return its exit code and stdout."""
    config = write_config(settings.state_dir.parent / "portal-sync.toml", settings, {})
    code = main(["--config", str(config), *args])
    return code, capsys.readouterr().out


def clone(server: LocalServer, source_dn: str, target_dn: str) -> None:
    """Add an entry at `target_dn` copying every user attribute of `source_dn` (an LDIF clone)."""
    attributes = {
        name: values
        for name, values in entries(server)[source_dn].items()
        if name not in OPERATIONAL and name != "uid"
    }
    attributes["uid"] = [target_dn.split(",", 1)[0].split("=", 1)[1]]
    classes = attributes.pop("objectclass")
    with connect(server) as conn:
        assert conn.add(target_dn, classes, attributes), conn.result


def hand_made_user(server: LocalServer, dn: str) -> None:
    """Add a user entry by hand, without any identity of portal-sync's."""
    login = dn.split(",", 1)[0].split("=", 1)[1]
    with connect(server) as conn:
        assert conn.add(dn, ["inetOrgPerson"], {"uid": login, "cn": login, "sn": "Test"})


def memberships(server: LocalServer, login: str) -> set[str]:
    """Return the customer, order and role groups naming the user with this login."""
    found = set()
    for ou in (CUSTOMERS, ORDERS, ROLES):
        found |= {name for name, members in groups(server, ou).items() if login in members}
    return found


def person(document: dict[str, Any], person_id: str) -> dict[str, Any]:
    return next(
        p for customer in document["customers"] for p in customer["persons"] if p["id"] == person_id
    )


MLEFEVRE_GROUPS = {LUMIERE, *LUMIERE_ORDERS}


def test_a_copy_with_a_users_identity_gets_no_access_on_a_full_run(
    settings_for, overlay, seed, capsys
):
    settings = settings_for(seed)
    sync(settings)
    assert memberships(overlay, "mlefevre") == MLEFEVRE_GROUPS
    clone(overlay, ext(overlay, "mlefevre"), ext(overlay, "zzcopy"))
    code, out = cli(settings, capsys, "run", "--full")
    assert memberships(overlay, "mlefevre") == MLEFEVRE_GROUPS
    assert memberships(overlay, "zzcopy") == set()
    assert code == 1, out
    [line] = [line for line in out.splitlines() if "person P-2" in line]
    assert ext(overlay, "mlefevre") in line and ext(overlay, "zzcopy") in line, line
    assert "no membership" in line and "not portal-sync's" in line, line
    again = run_sync(settings, full=True)
    assert again.counts() == {} and again.exit_code == 1, again.to_text()
    assert memberships(overlay, "mlefevre") == MLEFEVRE_GROUPS


def test_a_copy_with_a_users_identity_gets_no_access_on_an_incremental_run(
    settings_for, overlay, seed, caplog
):
    sync(settings_for(seed))
    clone(overlay, ext(overlay, "mlefevre"), ext(overlay, "zzcopy"))
    person(seed, "P-2")["phone"] = "+33 1 98 76 54 32"
    with caplog.at_level(logging.INFO, logger="portal_sync"):
        report = run_sync(settings_for(seed))
    assert "incremental run:" in caplog.text
    assert report.exit_code == 1, report.to_text()
    [error] = report.errors
    assert ext(overlay, "mlefevre") in error.problem and ext(overlay, "zzcopy") in error.problem
    assert memberships(overlay, "mlefevre") == MLEFEVRE_GROUPS
    assert memberships(overlay, "zzcopy") == set()
    tree = entries(overlay)
    assert tree[ext(overlay, "mlefevre")]["telephonenumber"] == ["+33 1 98 76 54 32"]
    assert "telephonenumber" not in tree[ext(overlay, "zzcopy")]
    again = run_sync(settings_for(seed))
    assert again.exit_code == 1 and again.counts() == {}, again.to_text()


def test_a_copy_already_in_the_groups_loses_them_and_the_user_gets_them_back(
    settings_for, overlay, seed
):
    """What the old planner had done: the copy took the memberships; a run gives them back."""
    sync(settings_for(seed))
    clone(overlay, ext(overlay, "mlefevre"), ext(overlay, "zzcopy"))
    with connect(overlay) as conn:
        for group in (f"cn={LUMIERE},{CUSTOMERS}", *(f"cn={o},{ORDERS}" for o in LUMIERE_ORDERS)):
            dn = f"{group},{overlay.suffix}"
            members = [m for m in entries(overlay)[dn]["member"] if "mlefevre" not in m]
            conn.modify(dn, {"member": [(MODIFY_REPLACE, [*members, ext(overlay, "zzcopy")])]})
    assert memberships(overlay, "zzcopy") == MLEFEVRE_GROUPS
    report = run_sync(settings_for(seed), full=True)
    assert report.exit_code == 1, report.to_text()
    assert memberships(overlay, "mlefevre") == MLEFEVRE_GROUPS
    assert memberships(overlay, "zzcopy") == set()


def test_a_copy_at_the_users_dn_while_the_user_was_renamed_by_hand_gets_nothing(
    settings_for, overlay, seed
):
    """The recorded entryUUID tells the renamed entry is portal-sync's, not the one at its DN.

    The entry keeps the DN it was given by hand while the copy holds the
    one the source gives (it cannot be renamed onto the copy), and keeps its
    groups there; once the copy is gone, the next run renames it back.
    """
    settings = settings_for(seed)
    sync(settings)
    original = entries(overlay)[ext(overlay, "mlefevre")]["entryuuid"]
    with connect(overlay) as conn:
        assert conn.modify_dn(ext(overlay, "mlefevre"), "uid=marc.l")
    clone(overlay, ext(overlay, "marc.l"), ext(overlay, "mlefevre"))
    report = run_sync(settings, full=True)
    assert report.exit_code == 1, report.to_text()
    problems = " ".join(error.problem for error in report.errors)
    assert ext(overlay, "marc.l") in problems and ext(overlay, "mlefevre") in problems
    assert not [c for c in report.changes if c.op in (Op.RENAME, Op.DELETE)], report.to_text()
    assert memberships(overlay, "marc.l") == MLEFEVRE_GROUPS
    assert memberships(overlay, "mlefevre") == set()
    with connect(overlay) as conn:
        assert conn.delete(ext(overlay, "mlefevre"))
    healed = run_sync(settings, full=True)
    assert healed.exit_code == 0, healed.to_text()
    assert entries(overlay)[ext(overlay, "mlefevre")]["entryuuid"] == original
    assert memberships(overlay, "mlefevre") == MLEFEVRE_GROUPS


def test_two_entries_that_cannot_be_told_apart_keep_their_memberships(
    settings_for, overlay, seed, tmp_path
):
    """No recorded entryUUID, and neither entry at the DN the source gives: nothing moves."""
    settings = settings_for(seed)
    sync(settings)
    with connect(overlay) as conn:
        assert conn.modify_dn(ext(overlay, "mlefevre"), "uid=marc.l")
    clone(overlay, ext(overlay, "marc.l"), ext(overlay, "zzcopy"))
    fresh = settings_for(seed, state_dir=tmp_path / "another-state")
    report = run_sync(fresh)
    assert report.exit_code == 1, report.to_text()
    [error] = [e for e in report.errors if "P-2" in e.record]
    assert "cannot tell" in error.problem, error.problem
    assert memberships(overlay, "marc.l") == MLEFEVRE_GROUPS
    assert memberships(overlay, "zzcopy") == set()
    assert users(overlay, "ou=external") >= {"marc.l", "zzcopy"}


def test_a_foreign_entry_holding_a_staff_login_is_reported_and_is_drift(
    settings_for, overlay, seed, capsys
):
    settings = settings_for(seed)
    sync(settings)
    foreign = ext(overlay, "anna.schmidt")
    hand_made_user(overlay, foreign)
    code, out = cli(settings, capsys, "run", "--full")
    assert code == 1, out
    [line] = [line for line in out.splitlines() if "anna.schmidt" in line]
    assert foreign in line and "rename or delete" in line, line
    assert memberships(overlay, "anna.schmidt") == {"Prepress"}
    assert set(entries(overlay)[foreign]) >= {"uid", "cn", "sn"}
    code, out = cli(settings, capsys, "access", "user", "anna.schmidt", "--compare")
    assert code == 1 and "DRIFT" in out, out
    assert foreign in out and "the directory agrees" not in out, out


def test_a_first_run_reports_a_foreign_entry_holding_a_staff_login(settings_for, overlay, seed):
    foreign = ext(overlay, "anna.schmidt")
    settings = settings_for(seed)
    sync(settings)
    hand_made_user(overlay, foreign)
    fresh = settings.model_copy(update={"state_dir": settings.state_dir.parent / "fresh"})
    report = run_sync(fresh)
    assert report.exit_code == 1, report.to_text()
    assert any(foreign in error.problem for error in report.errors), report.to_text()


def test_an_incremental_run_gives_no_login_a_foreign_entry_holds(
    settings_for, overlay, seed, caplog
):
    """A new person and a renamed one want logins hand-made entries hold elsewhere."""
    sync(settings_for(seed))
    hand_made_user(overlay, f"uid=newbie,ou=internal,{overlay.suffix}")
    with connect(overlay) as conn:
        conn.add(f"ou=people,{overlay.suffix}", ["organizationalUnit"], {"ou": "people"})
    hand_made_user(overlay, f"uid=sophie,ou=people,{overlay.suffix}")
    seed["customers"][0]["persons"].append(
        {
            "id": "P-5",
            "last_name": "New",
            "contact_types": ["ct-fab"],
            "account": {"login": "newbie", "enabled": True},
        }
    )
    person(seed, "P-3")["account"]["login"] = "sophie"
    with caplog.at_level(logging.INFO, logger="portal_sync"):
        report = run_sync(settings_for(seed))
    assert "incremental run:" in caplog.text
    assert report.exit_code == 1, report.to_text()
    problems = {error.record: error.problem for error in report.errors}
    assert set(problems) == {"person P-5 of customer 10001", "person P-3 of customer 10001"}
    assert f"uid=newbie,ou=internal,{overlay.suffix}" in problems["person P-5 of customer 10001"]
    assert f"uid=sophie,ou=people,{overlay.suffix}" in problems["person P-3 of customer 10001"]
    assert "newbie" not in users(overlay, "ou=external")
    assert "smartin" in users(overlay, "ou=external")
    assert memberships(overlay, "newbie") == set()
    assert memberships(overlay, "sophie") == set()
    assert memberships(overlay, "smartin") == MLEFEVRE_GROUPS


def test_the_sync_account_sees_a_login_held_outside_its_subtrees(sync_settings_for, acl_slapd):
    """Under the shipped ACLs the sync account reads the logins of entries it does not own."""
    from conftest import SEED

    settings = sync_settings_for(SEED)
    sync(settings)
    with connect(acl_slapd) as conn:
        conn.add(f"ou=people,{acl_slapd.suffix}", ["organizationalUnit"], {"ou": "people"})
    foreign = f"uid=anna.schmidt,ou=people,{acl_slapd.suffix}"
    hand_made_user(acl_slapd, foreign)
    report = run_sync(settings, full=True)
    assert report.exit_code == 1, report.to_text()
    assert [error.record for error in report.errors] == ["internal user U-1"]
    assert foreign in report.errors[0].problem
    assert memberships(acl_slapd, "anna.schmidt") == {"Prepress"}


def test_a_group_whose_rename_is_refused_writes_nothing_into_the_entry_at_its_new_name(
    settings_for, overlay, seed
):
    """A customer renamed onto a hand-made group's name: the hand-made group stays as it was."""
    settings = settings_for(seed)
    sync(settings)
    foreign = f"cn=X10001-Marketing,{CUSTOMERS},{overlay.suffix}"
    with connect(overlay) as conn:
        assert conn.add(
            foreign, ["groupOfNames"], {"cn": "X10001-Marketing", "member": overlay.root_dn}
        ), conn.result
    before = entries(overlay)[foreign]
    seed["customers"][0]["name"] = "Marketing"
    seed["customers"][0]["persons"][0]["account"]["login"] = "cdubois2"
    report = run_sync(settings_for(seed), full=True)
    assert any("collision" in error.problem for error in report.errors), report.to_text()
    assert entries(overlay)[foreign] == before
    assert groups(overlay, CUSTOMERS)[LUMIERE] >= {"cdubois2", "mlefevre"}
