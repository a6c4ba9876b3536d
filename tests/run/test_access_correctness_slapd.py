"""Who may open an order, through bad records, renames, disables and overlays (real slapd).

Every test runs twice: against a plain slapd and against one with the
refint and memberof overlays, which rewrite member values themselves when
a user entry moves, as production directories (and Active Directory) do.
"""

from __future__ import annotations

import pytest
from ldap3 import MODIFY_ADD, MODIFY_DELETE
from portal_helpers import password_of, ssha, write_config

from sync.cli import main
from sync.core.change import Op, Reason
from sync.core.dn import normalize_dn, parent_dn
from sync.core.report import Outcome
from sync.ldap.connection import password_accepted
from sync.ldap.directory import Directory
from sync.run.sync import run_sync

from directory_view import connect, entries, groups, users, write_stamps

pytestmark = pytest.mark.slapd

ORDERS = "ou=orders,ou=groups"
CUSTOMERS = "ou=customers,ou=groups"
ROLES = "ou=roles,ou=groups"


def sync(settings, **kwargs):
    report = run_sync(settings, **kwargs)
    assert report.ok, report.failure
    return report


def person(document, person_id):
    for customer in document["customers"]:
        for candidate in customer["persons"]:
            if candidate["id"] == person_id:
                return candidate
    raise KeyError(person_id)


def add_person(document, login, customer=0, **account):
    """Add person P-5 with an account to a customer of the seed; return it."""
    new = {
        "id": "P-5",
        "last_name": "New",
        "contact_types": ["ct-fab" if customer == 0 else "ct-design"],
        "account": {"login": login, "enabled": True, **account},
    }
    document["customers"][customer]["persons"].append(new)
    return new


def order(document, order_id):
    return next(o for o in document["orders"] if o["id"] == order_id)


def ext(server, login, ou="ou=external"):
    return f"uid={login},{ou},{server.suffix}"


def uuid_of(server, dn):
    return entries(server)[dn]["entryuuid"][0]


def identity_of(attributes):
    return next(v for v in attributes["businesscategory"] if not v.startswith("portal-sync:dis"))


def bad_member_values(server):
    """Return (group, member) pairs whose member names a missing or disabled entry."""
    tree = {normalize_dn(dn): attrs for dn, attrs in entries(server).items()}
    disabled_ou = normalize_dn(f"ou=disabled,{server.suffix}")
    bad = []
    for dn, attrs in tree.items():
        for member in attrs.get("member", []):
            target = tree.get(normalize_dn(member))
            marked = target is not None and any(
                v.startswith("portal-sync:disabled-since:") for v in target["businesscategory"]
            )
            if target is None or marked or normalize_dn(parent_dn(member)) == disabled_ou:
                bad.append((dn, member))
    return bad


def assert_second_run_writes_nothing(settings):
    again = run_sync(settings, full=True)
    assert again.counts() == {}, again.to_text()


def test_a_collision_never_grants_another_customers_user(any_settings_for, any_slapd, seed):
    """Defect 1: P-20's bad record keeps uid=pbraun; P-1 renamed to pbraun keeps its own DN."""
    sync(any_settings_for(seed))
    del person(seed, "P-20")["last_name"]
    person(seed, "P-1")["account"]["login"] = "pbraun"
    report = sync(any_settings_for(seed))
    records = {error.record for error in report.errors}
    assert records == {"person P-1 of customer 10001", "person P-20 of customer 10003"}
    assert entries(any_slapd)[ext(any_slapd, "pbraun")]["sn"] == ["Braun"]
    assert ext(any_slapd, "cdubois") in entries(any_slapd)
    customers, orders = groups(any_slapd, CUSTOMERS), groups(any_slapd, ORDERS)
    assert customers["X10001-Éditions Lumière"] == {"cdubois", "mlefevre", "smartin"}
    assert orders["order-RA_4726"] == {"cdubois", "mlefevre", "smartin"}
    assert orders["order-_20261120_001"] == {"cdubois", "mlefevre", "smartin", "jsilva", "acosta"}
    assert customers["X10003-Weingut Sonnenhang GmbH"] == {"pbraun"}
    assert orders["order-_20261121_003"] == {"pbraun", "jsilva", "acosta"}
    assert bad_member_values(any_slapd) == []
    assert_second_run_writes_nothing(any_settings_for(seed))


def test_a_freed_login_inherits_no_membership_in_incremental_runs(
    any_settings_for, any_slapd, seed
):
    """Defect 2: acosta turns invalid, then valid without account; a new acosta gets nothing of it."""
    sync(any_settings_for(seed))
    acosta = person(seed, "P-11")
    last_name = acosta.pop("last_name")
    sync(any_settings_for(seed))
    acosta["last_name"] = last_name
    del acosta["account"]
    report = sync(any_settings_for(seed))
    assert report.errors == []
    assert users(any_slapd, "ou=disabled") == {"acosta"}
    assert bad_member_values(any_slapd) == []
    add_person(seed, "acosta")
    sync(any_settings_for(seed))
    orders = groups(any_slapd, ORDERS)
    assert {name for name, members in orders.items() if "acosta" in members} == {
        "order-_20261120_001",
        "order-RA_4726",
    }
    assert bad_member_values(any_slapd) == []
    assert_second_run_writes_nothing(any_settings_for(seed))


def test_a_frozen_order_loses_the_dn_of_a_departed_agency_user(any_settings_for, any_slapd, seed):
    """Defect 2: an invalid order keeps its group, but not a member whose user left."""
    sync(any_settings_for(seed))
    group_dn = f"cn=order-_20261121_003,{ORDERS},{any_slapd.suffix}"
    uuid = uuid_of(any_slapd, group_dn)
    order(seed, "_20261121_003")["name"] = {"not": "a text"}
    del person(seed, "P-11")["account"]
    sync(any_settings_for(seed), full=True)
    assert uuid_of(any_slapd, group_dn) == uuid
    assert groups(any_slapd, ORDERS)["order-_20261121_003"] == {"pbraun", "jsilva"}
    assert bad_member_values(any_slapd) == []
    assert_second_run_writes_nothing(any_settings_for(seed))


def test_a_group_whose_only_members_are_quarantined_is_kept(any_settings_for, any_slapd, seed):
    """Defect 3: customer 10003's only person and a role's only user turn invalid."""
    sync(any_settings_for(seed))
    customer_dn = f"cn=X10003-Weingut Sonnenhang GmbH,{CUSTOMERS},{any_slapd.suffix}"
    role_dn = f"cn=Customer Sales Representatives,{ROLES},{any_slapd.suffix}"
    before = {dn: uuid_of(any_slapd, dn) for dn in (customer_dn, role_dn)}
    braun = person(seed, "P-20")
    weber = next(u for u in seed["internal_users"] if u["id"] == "U-2")
    saved = braun.pop("last_name"), weber.pop("last_name")
    report = sync(any_settings_for(seed))
    assert not [c for c in report.changes if c.op is Op.DELETE], report.to_text()
    assert {dn: uuid_of(any_slapd, dn) for dn in before} == before
    assert groups(any_slapd, CUSTOMERS)["X10003-Weingut Sonnenhang GmbH"] == {"pbraun"}
    assert groups(any_slapd, ORDERS)["order-_20261121_003"] == {"pbraun", "jsilva", "acosta"}
    assert groups(any_slapd, ROLES)["Customer Sales Representatives"] == {"tom.weber"}
    braun["last_name"], weber["last_name"] = saved
    assert sync(any_settings_for(seed)).counts() == {}
    assert {dn: uuid_of(any_slapd, dn) for dn in before} == before


def test_disabling_a_user_converges_in_one_run_memberships_first(
    any_settings_for, any_slapd, seed, monkeypatch
):
    """Defect 4: under refint the move rewrote member values and the group modifies failed."""
    sync(any_settings_for(seed))
    writes = []
    pipelined = Directory.apply_pipelined

    def recording(directory, changes, window):
        changes = list(changes)
        writes.extend(changes)
        return pipelined(directory, changes, window)

    monkeypatch.setattr(Directory, "apply_pipelined", recording)
    person(seed, "P-11")["account"]["enabled"] = False
    report = run_sync(any_settings_for(seed))
    assert report.outcome is Outcome.SUCCESS, report.to_text()
    old = normalize_dn(ext(any_slapd, "acosta"))
    move = next(i for i, c in enumerate(writes) if c.op is Op.RENAME and c.reason is Reason.DISABLE)
    removals = [
        i
        for i, c in enumerate(writes)
        if old in {normalize_dn(v) for v in c.delete_values.get("member", ())}
    ]
    assert removals and max(removals) < move
    assert users(any_slapd, "ou=disabled") == {"acosta"}
    every_member = set().union(
        *groups(any_slapd, ORDERS).values(), *groups(any_slapd, CUSTOMERS).values()
    )
    assert "acosta" not in every_member
    assert bad_member_values(any_slapd) == []
    assert_second_run_writes_nothing(any_settings_for(seed))


def test_renaming_a_user_converges_in_one_run(any_settings_for, any_slapd, seed):
    """Defect 4: a login change under refint left the groups reported as bad records."""
    sync(any_settings_for(seed))
    person(seed, "P-3")["account"]["login"] = "sophie.martin"
    person(seed, "P-10")["account"]["login"] = "joao.silva"
    report = run_sync(any_settings_for(seed))
    assert report.outcome is Outcome.SUCCESS, report.to_text()
    orders = groups(any_slapd, ORDERS)
    assert orders["order-_20261120_001"] == {
        "cdubois",
        "mlefevre",
        "sophie.martin",
        "joao.silva",
        "acosta",
    }
    assert orders["order-_20261121_003"] == {"pbraun", "joao.silva", "acosta"}
    assert bad_member_values(any_slapd) == []
    assert_second_run_writes_nothing(any_settings_for(seed))


def test_an_agency_gets_no_order_of_a_customer_without_remote_access(
    any_settings_for, any_slapd, seed
):
    """Defect 5: customer 10004 has no remote access; its order names agency 10002."""
    order(seed, "_20261122_005")["agency"] = "10002"
    report = sync(any_settings_for(seed))
    assert report.errors == []
    assert "order-_20261122_005" not in groups(any_slapd, ORDERS)
    assert_second_run_writes_nothing(any_settings_for(seed))


def test_a_setting_lets_an_agency_open_orders_of_customers_without_remote_access(
    any_settings_for, any_slapd, seed
):
    order(seed, "_20261122_005")["agency"] = "10002"
    allowed = {"agency_without_customer_access": True}
    sync(any_settings_for(seed, rules=allowed))
    assert groups(any_slapd, ORDERS)["order-_20261122_005"] == {"jsilva", "acosta"}
    del order(seed, "_20261122_005")["agency"]
    sync(any_settings_for(seed, rules=allowed))
    assert "order-_20261122_005" not in groups(any_slapd, ORDERS)


def test_an_access_rule_changed_in_the_settings_applies_with_the_source_unchanged(
    any_settings_for, any_slapd, seed
):
    """The agency rule withdrawn in the settings withdraws the agency's access at the next run,
    although the source file is the one the last clean run applied byte for byte."""
    order(seed, "_20261122_005")["agency"] = "10002"
    allowed = {"agency_without_customer_access": True}
    sync(any_settings_for(seed, rules=allowed))
    assert groups(any_slapd, ORDERS)["order-_20261122_005"] == {"jsilva", "acosta"}
    sync(any_settings_for(seed, rules={"agency_without_customer_access": False}))
    assert "order-_20261122_005" not in groups(any_slapd, ORDERS)
    sync(any_settings_for(seed, rules=allowed))
    assert groups(any_slapd, ORDERS)["order-_20261122_005"] == {"jsilva", "acosta"}


def compare(settings, capsys, what, name):
    """Run `portal-sync access WHAT NAME --compare`; return its exit code and output."""
    config = write_config(settings.state_dir.parent / "portal-sync.toml", settings, {})
    code = main(["--config", str(config), "access", what, name, "--compare"])
    return code, capsys.readouterr().out


def edit_members(server, group, add=(), delete=()):
    changes = []
    if delete:
        changes.append((MODIFY_DELETE, list(delete)))
    if add:
        changes.append((MODIFY_ADD, list(add)))
    with connect(server) as conn:
        conn.modify(f"{group},{server.suffix}", {"member": changes})


def test_compare_sees_another_customers_user_in_place_of_a_collided_one(
    settings_for, slapd, seed, capsys
):
    sync(settings_for(seed))
    del person(seed, "P-20")["last_name"]
    person(seed, "P-1")["account"]["login"] = "pbraun"
    settings = settings_for(seed)
    run_sync(settings)
    for group in (f"cn=order-RA_4726,{ORDERS}", f"cn=X10001-Éditions Lumière,{CUSTOMERS}"):
        edit_members(slapd, group, add=[ext(slapd, "pbraun")], delete=[ext(slapd, "cdubois")])
    assert groups(slapd, ORDERS)["order-RA_4726"] == {"pbraun", "mlefevre", "smartin"}
    code, out = compare(settings, capsys, "order", "RA_4726")
    assert code == 1 and "DRIFT" in out, out
    assert "granted by the directory, not by the rules: pbraun" in out
    assert "granted by the rules, missing in the directory: cdubois" in out
    code, out = compare(settings, capsys, "user", "pbraun")
    assert code == 1 and "granted by the directory, not by the rules: RA_4726" in out, out
    code, out = compare(settings, capsys, "user", "cdubois")
    assert code == 1 and "granted by the rules, missing in the directory: RA_4726" in out, out


def test_compare_sees_member_values_of_moved_and_disabled_entries(
    settings_for, slapd, seed, capsys
):
    del person(seed, "P-11")["account"]
    settings = settings_for(seed)
    sync(settings)
    sync(settings)
    stale = [ext(slapd, "acosta"), ext(slapd, "acosta", "ou=disabled")]
    edit_members(slapd, f"cn=order-_20261120_002,{ORDERS}", add=stale)
    code, out = compare(settings, capsys, "order", "_20261120_002")
    assert code == 1 and "DRIFT" in out, out
    assert f"granted by the directory, not by the rules: {stale[0]} (no such entry)" in out
    assert f"granted by the directory, not by the rules: {stale[1]} (disabled)" in out


def test_compare_sees_a_missing_group_of_a_quarantined_member(settings_for, slapd, seed, capsys):
    sync(settings_for(seed))
    del person(seed, "P-20")["last_name"]
    settings = settings_for(seed)
    run_sync(settings)
    with connect(slapd) as conn:
        conn.delete(f"cn=order-_20261121_003,{ORDERS},{slapd.suffix}")
    code, out = compare(settings, capsys, "order", "_20261121_003")
    assert code == 1 and "DRIFT" in out, out
    assert "granted by the rules, missing in the directory: pbraun" in out
    code, out = compare(settings, capsys, "user", "pbraun")
    assert code == 1 and "granted by the rules, missing in the directory: _20261121_003" in out


def test_compare_sees_an_agency_in_an_order_of_a_customer_without_remote_access(
    settings_for, slapd, seed, capsys
):
    order(seed, "_20261122_005")["agency"] = "10002"
    settings = settings_for(seed)
    sync(settings)
    with connect(slapd) as conn:
        conn.add(
            f"cn=order-_20261122_005,{ORDERS},{slapd.suffix}",
            ["groupOfNames"],
            {
                "businessCategory": "portal-sync:order:_20261122_005",
                "o": "10004",
                "ou": "10002",
                "member": [ext(slapd, "jsilva"), ext(slapd, "acosta")],
            },
        )
    code, out = compare(settings, capsys, "order", "_20261122_005")
    assert code == 1 and "DRIFT" in out, out
    assert "granted by the directory, not by the rules: acosta" in out
    code, out = compare(settings, capsys, "user", "jsilva")
    assert code == 1 and "granted by the directory, not by the rules: _20261122_005" in out


def test_a_login_given_again_and_disabled_again_keeps_both_disabled_entries(
    any_settings_for, any_slapd, seed
):
    sync(any_settings_for(seed))
    del person(seed, "P-11")["account"]
    sync(any_settings_for(seed))
    newcomer = add_person(seed, "acosta")
    sync(any_settings_for(seed))
    newcomer["account"]["enabled"] = False
    report = sync(any_settings_for(seed))
    assert report.errors == [], report.to_text()
    disabled = entries(any_slapd, f"ou=disabled,{any_slapd.suffix}")
    assert {identity_of(attrs) for attrs in disabled.values() if "uid" in attrs} == {
        "portal-sync:external:P-11",
        "portal-sync:external:P-5",
    }
    assert ext(any_slapd, "acosta (external:P-5)", "ou=disabled") in disabled
    assert bad_member_values(any_slapd) == []
    assert_second_run_writes_nothing(any_settings_for(seed))


def test_a_disabled_account_does_not_hold_its_login_against_another(
    any_settings_for, any_slapd, seed
):
    seed["internal_users"][1]["login"] = "pbraun"
    seed["internal_users"][1]["enabled"] = False
    report = sync(any_settings_for(seed))
    assert report.errors == []
    assert groups(any_slapd, ORDERS)["order-_20261121_003"] == {"pbraun", "jsilva", "acosta"}


def test_an_incremental_run_removes_a_stale_value_naming_the_dn_a_new_user_gets(
    any_settings_for, any_slapd, seed
):
    sync(any_settings_for(seed))
    stale = ext(any_slapd, "newbie")
    edit_members(any_slapd, f"cn=order-_20261120_002,{ORDERS}", add=[stale])
    add_person(seed, "newbie")
    sync(any_settings_for(seed))
    assert groups(any_slapd, ORDERS)["order-_20261120_002"] == {"jsilva", "acosta"}
    assert "newbie" in groups(any_slapd, ORDERS)["order-RA_4726"]


def test_a_collided_record_never_writes_its_password_into_the_other_entry(
    any_settings_for, any_slapd, seed
):
    person(seed, "P-1")["account"]["password_hash"] = ssha(password_of("cdubois"))
    options = {"passwords": {"external": "source-hash"}}
    sync(any_settings_for(seed, **options))
    del person(seed, "P-20")["last_name"]
    account = person(seed, "P-1")["account"]
    account["login"] = "pbraun"
    account["password_hash"] = ssha("a-new-password")
    settings = any_settings_for(seed, **options)
    sync(settings)
    assert not password_accepted(settings.ldap, ext(any_slapd, "pbraun"), "a-new-password")
    assert password_accepted(settings.ldap, ext(any_slapd, "cdubois"), password_of("cdubois"))


def test_the_report_says_which_memberships_were_withdrawn_and_why(
    any_settings_for, any_slapd, seed
):
    sync(any_settings_for(seed))
    order(seed, "_20261121_003")["agency"] = "10099"
    braun = person(seed, "P-20")
    del braun["last_name"]
    braun["account"]["enabled"] = False
    report = sync(any_settings_for(seed))
    withdrawn = {
        (w.member.split(",")[0], w.group.split(",")[0]): w.reason for w in report.withdrawn
    }
    assert "agency 10099 does not exist" in withdrawn[("uid=jsilva", "cn=order-_20261121_003")]
    assert "agency 10099 does not exist" in withdrawn[("uid=acosta", "cn=order-_20261121_003")]
    assert (
        "person P-20 is in error" in withdrawn[("uid=pbraun", "cn=X10003-Weingut Sonnenhang GmbH")]
    )
    assert "membership(s) withdrawn:" in report.to_text()
    assert report.to_dict()["withdrawn"]
    assert users(any_slapd, "ou=external") >= {"pbraun"}
    assert bad_member_values(any_slapd) == []
    assert_second_run_writes_nothing(any_settings_for(seed))


def test_a_membership_the_source_cannot_tell_is_kept_but_never_added(
    any_settings_for, any_slapd, seed
):
    sync(any_settings_for(seed))
    person(seed, "P-11")["account"]["enabled"] = "maybe"
    seed["orders"].append({"id": "_20261123_006", "customer": "10002", "portal_visible": True})
    report = sync(any_settings_for(seed))
    assert [e.record for e in report.errors] == ["person P-11 of customer 10002"]
    orders = groups(any_slapd, ORDERS)
    assert orders["order-_20261120_002"] == {"jsilva", "acosta"}
    assert orders["order-_20261123_006"] == {"jsilva"}
    assert_second_run_writes_nothing(any_settings_for(seed))


def test_a_document_of_bad_records_only_changes_no_membership(any_settings_for, any_slapd, seed):
    sync(any_settings_for(seed))
    before = write_stamps(any_slapd)
    for customer in seed["customers"]:
        del customer["name"]
    add_person(seed, "newcomer", customer=1)
    seed["internal_users"] = []
    report = run_sync(any_settings_for(seed))
    assert report.changes == [] and "broken export" in report.to_text()
    assert write_stamps(any_slapd) == before
