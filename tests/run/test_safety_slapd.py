"""Safety against a real slapd: ownership, guard, lifecycle, renames, quarantine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from ldap3 import MODIFY_ADD, MODIFY_REPLACE, NONE, Connection, Server

from sync.core.report import Outcome
from sync.run.sync import run_sync

import seed_table
from directory_view import connect, entries, groups, users, write_stamps

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def sync(settings, **kwargs):
    report = run_sync(settings, **kwargs)
    assert report.failure is None, report.failure
    return report


def set_password(server, dn, password):
    with connect(server) as conn:
        assert conn.modify(dn, {"userPassword": [(MODIFY_REPLACE, [password])]})


def can_bind(server, dn, password):
    conn = Connection(Server(server.url, get_info=NONE), dn, password)
    try:
        return conn.bind()
    finally:
        conn.unbind()


def uuid_of(server, dn):
    return entries(server)[dn]["entryuuid"][0]


def ext(server, login):
    return f"uid={login},ou=external,{server.suffix}"


def test_admin_entries_inside_managed_ous_survive_every_run_untouched(settings_for, seed, slapd):
    sync(settings_for(seed))
    admin_dn = f"uid=printer-kiosk,ou=external,{slapd.suffix}"
    with connect(slapd) as conn:
        assert conn.add(admin_dn, ["inetOrgPerson"], {"sn": "Kiosk", "cn": "Kiosk"})
    before = write_stamps(slapd)[admin_dn]
    seed["customers"] = seed["customers"][:1]
    seed["orders"] = [o for o in seed["orders"] if o["customer"] == "10001" and "agency" not in o]
    sync(settings_for(seed), allow_deletions=100)
    sync(
        settings_for({"format_version": 1, "internal_users": seed["internal_users"]}),
        allow_deletions=100,
    )
    assert write_stamps(slapd)[admin_dn] == before


def test_unmanaged_entry_holding_a_wanted_dn_is_a_collision_and_gets_no_access(
    settings_for, seed, slapd
):
    with connect(slapd) as conn:
        conn.add(f"ou=external,{slapd.suffix}", ["organizationalUnit"], {"ou": "external"})
        conn.add(ext(slapd, "jsilva"), ["inetOrgPerson"], {"sn": "Impostor", "cn": "Impostor"})
    report = run_sync(settings_for(seed))
    [error] = report.errors
    assert error.record == "person P-10 of customer 10002" and error.problem.startswith("collision")
    assert entries(slapd)[ext(slapd, "jsilva")]["sn"] == ["Impostor"]
    every_member = set().union(*groups(slapd, "ou=orders,ou=groups").values())
    assert "jsilva" not in every_member and "acosta" in every_member


def test_member_added_by_hand_is_removed_and_reported(settings_for, seed, slapd):
    sync(settings_for(seed))
    group = f"cn=order-RA_4726,ou=orders,ou=groups,{slapd.suffix}"
    with connect(slapd) as conn:
        conn.modify(group, {"member": [(MODIFY_ADD, [ext(slapd, "pbraun")])]})
    report = sync(settings_for(seed), full=True)
    [change] = report.changes
    assert change.dn == group and change.delete_values == {"member": (ext(slapd, "pbraun"),)}
    assert "pbraun" in report.to_text()
    assert groups(slapd, "ou=orders,ou=groups")["order-RA_4726"] == {
        "cdubois",
        "mlefevre",
        "smartin",
    }


def test_emptied_source_deletes_nothing(settings_for, seed, slapd):
    sync(settings_for(seed))
    before = write_stamps(slapd)
    report = run_sync(settings_for({"format_version": 1}))
    assert report.changes == [] and report.outcome is Outcome.RECORD_ERRORS
    assert "nothing is deleted" in report.errors[0].problem
    assert write_stamps(slapd) == before


def test_run_over_the_threshold_applies_nothing_then_passes_with_approval(
    settings_for, seed, slapd
):
    sync(settings_for(seed))
    before = write_stamps(slapd)
    for customer in seed["customers"]:
        customer["remote_access"] = False
    settings = settings_for(seed, safety={"max_deletions": 5})
    held = run_sync(settings)
    assert held.outcome is Outcome.DELETION_GUARD and int(held.exit_code) == 5
    assert held.changes == [] and len(held.pending) == 6 + 7
    assert write_stamps(slapd) == before
    passed = run_sync(settings, allow_deletions=13)
    assert passed.ok and users(slapd, "ou=external") == set()
    assert users(slapd, "ou=disabled") == seed_table.EXTERNAL_USERS


def test_user_is_disabled_kept_restored_with_password_then_deleted_after_retention(
    settings_for, seed, slapd
):
    sync(settings_for(seed), now=T0)
    dn = ext(slapd, "acosta")
    set_password(slapd, dn, "Ana-Pass-1")
    uuid = uuid_of(slapd, dn)
    seed["customers"][1]["persons"][1]["account"]["enabled"] = False
    report = sync(settings_for(seed), now=T0 + timedelta(hours=1))
    disabled_dn = f"uid=acosta,ou=disabled,{slapd.suffix}"
    reasons = [c.reason.value for c in report.changes if c.reason]
    assert reasons == ["disable", *["before-move"] * 4, "disable"]
    assert "acosta" not in set().union(*groups(slapd, "ou=orders,ou=groups").values())
    assert users(slapd, "ou=disabled") == {"acosta"}
    assert sync(settings_for(seed), now=T0 + timedelta(days=29)).changes == []

    seed["customers"][1]["persons"][1]["account"]["enabled"] = True
    sync(settings_for(seed), now=T0 + timedelta(days=29, hours=1))
    assert uuid_of(slapd, dn) == uuid and can_bind(slapd, dn, "Ana-Pass-1")
    assert groups(slapd, "ou=orders,ou=groups")["order-_20261120_002"] == {"jsilva", "acosta"}
    assert "portal-sync:disabled-since" not in str(entries(slapd)[dn]["businesscategory"])

    del seed["customers"][1]["persons"][1]
    sync(settings_for(seed), now=T0 + timedelta(days=30))
    assert disabled_dn in entries(slapd)
    assert sync(settings_for(seed), now=T0 + timedelta(days=59, hours=23)).changes == []
    report = sync(settings_for(seed), now=T0 + timedelta(days=60, hours=1))
    assert [(c.op.value, c.reason.value) for c in report.changes] == [
        ("delete", "retention-expired")
    ]
    assert disabled_dn not in entries(slapd)


def test_login_rename_keeps_entry_password_and_memberships(settings_for, seed, slapd):
    sync(settings_for(seed))
    old = ext(slapd, "smartin")
    set_password(slapd, old, "Sophie-Pass-7")
    uuid = uuid_of(slapd, old)
    seed["customers"][0]["persons"][2]["account"]["login"] = "sophie.martin"
    report = sync(settings_for(seed))
    new = ext(slapd, "sophie.martin")
    assert report.counts()["rename"] == 1 and "add" not in report.counts()
    assert uuid_of(slapd, new) == uuid and old not in entries(slapd)
    assert can_bind(slapd, new, "Sophie-Pass-7")
    assert groups(slapd, "ou=orders,ou=groups")["order-RA_4726"] == {
        "cdubois",
        "mlefevre",
        "sophie.martin",
    }
    assert sync(settings_for(seed)).changes == []


def test_renamed_customer_renames_its_group(settings_for, seed, slapd):
    sync(settings_for(seed))
    old = f"cn=X10003-Weingut Sonnenhang GmbH,ou=customers,ou=groups,{slapd.suffix}"
    uuid = uuid_of(slapd, old)
    seed["customers"][2]["name"] = "Weingut Sonnenhang & Söhne"
    sync(settings_for(seed))
    new = f"cn=X10003-Weingut Sonnenhang & Söhne,ou=customers,ou=groups,{slapd.suffix}"
    assert uuid_of(slapd, new) == uuid


def test_order_moved_to_another_agency_updates_members_in_place(settings_for, seed, slapd):
    seed["customers"][2]["agency"] = True
    sync(settings_for(seed))
    group = f"cn=order-_20261120_001,ou=orders,ou=groups,{slapd.suffix}"
    uuid = uuid_of(slapd, group)
    seed["orders"][0]["agency"] = "10003"
    report = sync(settings_for(seed))
    [change] = report.changes
    assert change.op.value == "modify" and uuid_of(slapd, group) == uuid
    assert groups(slapd, "ou=orders,ou=groups")["order-_20261120_001"] == {
        "cdubois",
        "mlefevre",
        "smartin",
        "pbraun",
    }


def test_bad_record_keeps_its_entry_exactly_as_it_is(settings_for, seed, slapd):
    sync(settings_for(seed))
    before = write_stamps(slapd)
    jsilva = seed["customers"][1]["persons"][0]
    jsilva["email"] = "new@criativa.example"
    jsilva["contact_types"] = ["nope"]
    seed["orders"][1]["customer"] = "4242"
    report = run_sync(settings_for(seed))
    assert {e.record for e in report.errors} == {
        "person P-10 of customer 10002",
        "order _20261120_002",
    }
    after = write_stamps(slapd)
    assert after[ext(slapd, "jsilva")] == before[ext(slapd, "jsilva")]
    order_002 = f"cn=order-_20261120_002,ou=orders,ou=groups,{slapd.suffix}"
    assert order_002 in after
    assert entries(slapd)[order_002]["member"] == [order_002]
    assert "customer 4242 does not exist" in report.to_text()
    assert groups(slapd, "ou=orders,ou=groups")["order-_20261120_001"] >= {"jsilva"}


def test_duplicate_login_keeps_the_existing_owner(settings_for, seed, slapd):
    sync(settings_for(seed))
    before = write_stamps(slapd)[ext(slapd, "pbraun")]
    seed["customers"][0]["persons"][3]["account"] = {"login": "PBraun", "enabled": True}
    report = run_sync(settings_for(seed))
    assert {e.record for e in report.errors} == {
        "person P-4 of customer 10001",
        "person P-20 of customer 10003",
    }
    assert write_stamps(slapd)[ext(slapd, "pbraun")] == before
    assert users(slapd, "ou=external") == seed_table.EXTERNAL_USERS


@pytest.mark.parametrize("problem", ["bind", "base", "access"])
def test_configuration_faults_give_one_clear_message(settings_for, seed, slapd, problem):
    if problem == "bind":
        settings = settings_for(seed, ldap={"bind_password": "wrong"})
        expected = "refused the bind"
    elif problem == "base":
        settings = settings_for(seed, ldap={"base_dn": "dc=missing,dc=org"})
        expected = "base DN dc=missing,dc=org does not exist"
    else:
        reader = f"cn=reader,{slapd.suffix}"
        with connect(slapd) as conn:
            conn.add(
                reader, ["person", "simpleSecurityObject"], {"sn": "r", "userPassword": "r-pass"}
            )
        settings = settings_for(seed, ldap={"bind_dn": reader, "bind_password": "r-pass"})
        expected = "insufficient access rights"
    report = run_sync(settings)
    assert report.outcome is Outcome.CONFIGURATION and int(report.exit_code) == 2
    assert expected in report.failure and report.failure.count("\n") == 0
