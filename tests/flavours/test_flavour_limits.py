"""What a directory refuses, fitted or named per record, and the same answers on every flavour.

Samba AD refuses `company`, `givenName`, `sn` over 64 characters, a
`description` over 1,024, and `sAMAccountName` values holding `[`, `"`, `=`
and more or ending in `.`; the AD mapping also caps `sAMAccountName` at 20.
Each test runs on slapd (refint + memberof), 389-DS and Samba AD.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from documents import add_person
from flavours.targets import Target

from sync.portal.access import describe_order
from sync.portal.login import Portal
from sync.run.sync import run_sync

pytest_plugins = ["servers.fixtures", "flavours.fixtures"]

LONG_NAME = "Druckerei Müller GmbH & Co. KG, Niederlassung Nordrhein-Westfalen Süd2"
assert len(LONG_NAME) == 70


def sync(target, seed, tmp_path, full=False, **overrides):
    report = run_sync(target.settings(seed, tmp_path, **overrides), full=full)
    assert report.failure is None, report.failure
    return report


def customer_group(target: Target, customer_id: str) -> dict[str, list[str]]:
    """Return the attributes of the managed group of one customer, found by its identity."""
    identity = f"portal-sync:customer:{customer_id}"
    [group] = [
        attributes
        for attributes in target.entries("ou=customers,ou=groups").values()
        if identity in attributes.get("extensionname", attributes.get("businesscategory", []))
    ]
    return group


def member_logins(group: dict[str, list[str]]) -> set[str]:
    return {value.split(",", 1)[0].split("=", 1)[1] for value in group.get("member", ())}


def test_a_70_character_customer_name_keeps_its_group_and_its_accounts(target, seed, tmp_path):
    seed["customers"][0]["name"] = LONG_NAME
    report = sync(target, seed, tmp_path)
    assert not report.errors, report.errors
    assert {"cdubois", "mlefevre", "smartin"} <= target.users("ou=external")
    group = customer_group(target, "10001")
    assert member_logins(group) == {"cdubois", "mlefevre", "smartin"}
    assert any(LONG_NAME in value for values in group.values() for value in values), group
    if target.name == "samba-ad":
        assert len(group["cn"][0]) <= 64 and group["cn"][0].startswith("X10001-Druckerei")
    assert sync(target, seed, tmp_path, full=True).changes == []


def test_a_21_character_login_costs_only_its_person_and_only_on_ad(target, seed, tmp_path):
    login = "claire.dubois.lumiere"
    assert len(login) == 21
    add_person(seed, login)
    report = sync(target, seed, tmp_path)
    group = customer_group(target, "10001")
    if target.name == "samba-ad":
        [error] = report.errors
        assert error.record == "person P-90 of customer 10001"
        assert "samaccountname" in error.problem.lower() and "20" in error.problem
        assert member_logins(group) == {"cdubois", "mlefevre", "smartin"}
    else:
        assert not report.errors, report.errors
        assert member_logins(group) == {"cdubois", "mlefevre", "smartin", login}
    assert sync(target, seed, tmp_path, full=True).changes == []


@pytest.mark.parametrize("login", ["a=dubois", "bad[chars]", "dubois."])
def test_a_login_ad_refuses_costs_only_its_person(target, seed, tmp_path, login):
    add_person(seed, login)
    report = sync(target, seed, tmp_path)
    group = customer_group(target, "10001")
    if target.name == "samba-ad":
        [error] = report.errors
        assert error.record == "person P-90 of customer 10001"
        assert "samaccountname" in error.problem.lower(), error.problem
        assert "userPrincipalName is already used" not in error.problem
        assert member_logins(group) == {"cdubois", "mlefevre", "smartin"}
        assert login not in target.users("ou=external")
    else:
        assert not report.errors, report.errors
        assert login in target.users("ou=external")
    assert "cdubois" in target.users("ou=external")
    assert sync(target, seed, tmp_path, full=True).changes == []


def test_access_says_why_on_every_flavour(target, seed, tmp_path):
    settings = target.settings(seed, tmp_path)
    assert run_sync(settings).errors == []
    with Portal.open(settings) as portal:
        jsilva = portal.user("jsilva")
        cdubois = portal.user("cdubois")
        answer = portal.order_members("_20261120_001")
    assert {grant.order_id: grant.reason for grant in jsilva.grants} == {
        "_20261120_001": "agency 10002 for customer 10001",
        "_20261120_002": "own customer 10002",
        "_20261121_003": "agency 10002 for customer 10003",
    }
    assert {grant.order_id: grant.reason for grant in cdubois.grants} == {
        "_20261120_001": "own customer 10001",
        "RA_4726": "own customer 10001",
    }
    assert answer is not None
    lines = describe_order("_20261120_001", *answer)
    assert "  acosta (external): agency 10002 for customer 10001" in lines
    assert "  smartin (external): own customer 10001" in lines
    assert not any("neither" in line for line in lines), lines


def test_a_group_type_spelt_unsigned_is_not_written_again(ad, seed, tmp_path: Path):
    """Only AD's mapping holds an integer (groupType): the stock schemas of the others have none."""
    target = ad
    text = Path(target.mapping).read_text(encoding="utf-8")
    assert '"-2147483646"' in text
    unsigned = tmp_path / "unsigned.toml"
    unsigned.write_text(text.replace('"-2147483646"', '"2147483650"'), encoding="utf-8")
    mapping = {"path": str(unsigned)}
    report = sync(target, seed, tmp_path, mapping=mapping)
    assert not report.errors, report.errors
    before = target.writes(target)
    second = sync(target, seed, tmp_path, mapping=mapping, full=True)
    assert second.changes == []
    assert target.writes(target) == before


def generated_document():
    from benchmarks.generate import Size, generate

    return generate(Size(customers=40, orders_per_customer=2.0, internal_users=4), seed=7)


def hostile():
    from run.test_hostile_slapd import hostile_document

    document = hostile_document()
    for customer in document["customers"]:
        customer["name"] = f"{customer['name']} GmbH & Co. KG, Niederlassung Nordrhein-Westfalen"
    return document


@pytest.mark.parametrize("make", [generated_document, hostile], ids=["generated", "hostile"])
def test_generated_and_hostile_names_sync_into_ad_with_nothing_refused_for_its_length(
    ad, tmp_path, make
):
    report = run_sync(ad.settings(make(), tmp_path, safety={"max_deletions": 10_000}))
    assert report.failure is None, report.failure
    for error in report.errors:
        assert "0000200B" not in error.problem, error  # AD refused a value (too long)
        if "characters;" in error.problem:  # a length the mapping states: only a login's
            assert "sAMAccountName" in error.problem and "login" in error.problem, error
    assert len(ad.entries("ou=external")) > 1
    assert run_sync(ad.settings(make(), tmp_path), full=True).changes == []


def test_a_second_command_line_run_writes_the_lease_entry_only_unless_the_lease_is_off(
    ad, seed, tmp_path
):
    import os
    import subprocess
    import sys

    ad.settings(seed, tmp_path)  # writes the source document
    env = {
        **os.environ,
        "PORTAL_SYNC_LDAP__URL": ad.url,
        "PORTAL_SYNC_LDAP__BIND_DN": ad.admin_dn,
        "PORTAL_SYNC_LDAP__BIND_PASSWORD": ad.admin_password,
        "PORTAL_SYNC_LDAP__BASE_DN": ad.base,
        "PORTAL_SYNC_LDAP__CA_FILE": str(ad.ldap_extra["ca_file"]),
        "PORTAL_SYNC_LDAP__TLS_NAME": ad.ldap_extra["tls_name"],
        "PORTAL_SYNC_MAPPING__PATH": "active-directory",
        "PORTAL_SYNC_MAPPING__VALUES__UPN_SUFFIX": ad.upn_suffix,
        "PORTAL_SYNC_SOURCE__PATH": str(tmp_path / "source.json"),
        "PORTAL_SYNC_STATE_DIR": str(tmp_path / "state"),
        "PORTAL_SYNC_LOCK__LEASE_SECONDS": "3600",  # renewed every 20 minutes: never in a run
    }

    def run(**more):
        done = subprocess.run(
            [sys.executable, "-m", "sync", "run", "--full"],
            env={**env, **more},
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def usn():
        [value] = ad.writes(ad)
        return int(value)

    run()
    before = usn()
    run()
    assert usn() - before == 2  # the lease entry: taken, then released
    before = usn()
    run(PORTAL_SYNC_LOCK__LEASE="false")
    assert usn() == before
