"""Logins that move between people, on every flavour, in one run.

slapd's refint rewrites member values after a rename in a background task,
389-DS's referential integrity and Active Directory synchronously; AD also
keeps `sAMAccountName` and `userPrincipalName` unique in the whole domain,
the disabled OU included. A login two people swap, or one a disabled person
frees and another takes, must still end with every group naming the right
person's entry after one run, with no record error, and a second run must
write nothing.
"""

from __future__ import annotations

import re

from flavours.targets import Target

from sync.run.sync import run_sync

pytest_plugins = ["servers.fixtures", "flavours.fixtures"]

GROUP_OUS = ("ou=customers,ou=groups", "ou=orders,ou=groups", "ou=roles,ou=groups")
PERSON = re.compile(r"portal-sync:(?:external|internal):(\S+)$")


def sync(target, seed, tmp_path, **kwargs):
    report = run_sync(target.settings(seed, tmp_path, lock={"lease": False}), **kwargs)
    assert report.failure is None, report.failure
    assert not report.errors, report.errors
    return report


def identity(target: Target, attributes: dict[str, list[str]]) -> str | None:
    """Return the record id (P-1, U-2) an entry's identity attribute names, if any."""
    name = "extensionname" if target.name == "samba-ad" else "businesscategory"
    for value in attributes.get(name, ()):
        found = PERSON.match(value)
        if found:
            return found.group(1)
    return None


def people(target: Target) -> dict[str, str]:
    """Return {user DN (lower case): record id} of every managed user entry."""
    found = {}
    for ou in ("ou=internal", "ou=external", "ou=disabled"):
        for dn, attributes in target.entries(ou).items():
            person = identity(target, attributes)
            if person is not None:
                found[dn] = person
    return found


def memberships(target: Target) -> dict[str, set[str]]:
    """Return {group cn: record ids of its members}; a value naming no user counts as itself."""
    dns = people(target)
    result = {}
    for ou in GROUP_OUS:
        for attributes in target.entries(ou).values():
            if "member" in attributes:
                values = {m.lower() for m in attributes["member"]}
                result[attributes["cn"][0]] = {dns.get(value, value) for value in values}
    return result


def login_of(target: Target, person: str) -> str:
    """Return the login the active entry of a record has (its RDN value)."""
    [dn] = [dn for dn, who in people(target).items() if who == person and ",ou=disabled," not in dn]
    return dn.split(",", 1)[0].split("=", 1)[1]


def disabled_names(target: Target) -> set[str]:
    """Return the RDN values of the entries in the disabled OU."""
    return {
        dn.split(",", 1)[0].split("=", 1)[1]
        for dn in target.entries("ou=disabled")
        if not dn.startswith("ou=")
    }


def ad_logins_follow_the_names(target: Target) -> None:
    """On AD: every active user's sAMAccountName and UPN are its login; disabled ones hold none."""
    if target.name != "samba-ad":
        return
    for ou in ("ou=internal", "ou=external"):
        for dn, attributes in target.entries(ou).items():
            if identity(target, attributes) is None:
                continue
            login = dn.split(",", 1)[0].split("=", 1)[1]
            assert attributes["samaccountname"] == [login], dn
            assert attributes["userprincipalname"] == [f"{login}@{target.upn_suffix}"], dn
    for dn, attributes in target.entries("ou=disabled").items():
        if identity(target, attributes) is None:
            continue
        login = dn.split(",", 1)[0].split("=", 1)[1]
        assert login not in [v.lower() for v in attributes.get("samaccountname", ())], dn
        assert f"{login}@{target.upn_suffix}" not in attributes.get("userprincipalname", ()), dn
        assert attributes["msds-cloudextensionattribute1"] == [login], dn
    for ou in ("ou=internal", "ou=external"):
        for dn, attributes in target.entries(ou).items():
            assert "msds-cloudextensionattribute1" not in attributes, dn


def a_second_run_writes_nothing(target: Target, seed, tmp_path) -> None:
    before = target.writes(target)
    assert sync(target, seed, tmp_path, full=True).changes == []
    assert target.writes(target) == before


def person(seed, person_id):
    for customer in seed["customers"]:
        for record in customer["persons"]:
            if record["id"] == person_id:
                return record
    raise KeyError(person_id)


def test_two_users_of_two_customers_swap_logins_in_a_busy_run(target, seed, tmp_path):
    sync(target, seed, tmp_path)
    before = memberships(target)
    person(seed, "P-1")["account"]["login"] = "jsilva"  # customer 10001
    person(seed, "P-10")["account"]["login"] = "cdubois"  # customer 10002, the agency
    person(seed, "P-3")["account"]["login"] = "sophie.martin"
    person(seed, "P-20")["account"]["login"] = "peter.braun"
    seed["internal_users"][1]["login"] = "t.weber"
    sync(target, seed, tmp_path)
    assert login_of(target, "P-1") == "jsilva" and login_of(target, "P-10") == "cdubois"
    assert memberships(target) == before
    ad_logins_follow_the_names(target)
    a_second_run_writes_nothing(target, seed, tmp_path)


def test_a_login_freed_by_a_disable_is_taken_by_another_person_in_the_same_run(
    target, seed, tmp_path
):
    sync(target, seed, tmp_path)
    before = memberships(target)
    person(seed, "P-11")["account"]["enabled"] = False  # acosta, of the agency
    seed["customers"][0]["persons"].append(
        {
            "id": "P-21",
            "first_name": "Anke",
            "last_name": "Costa",
            "contact_types": ["ct-achats"],
            "account": {"login": "acosta", "enabled": True},
        }
    )
    sync(target, seed, tmp_path)
    assert disabled_names(target) == {"acosta"}
    assert login_of(target, "P-21") == "acosta"
    expected = {name: members - {"P-11"} for name, members in before.items()}
    for name, members in before.items():
        if "P-2" in members:  # P-21 is a buyer of customer 10001, as P-2 is
            expected[name].add("P-21")
    assert memberships(target) == expected
    ad_logins_follow_the_names(target)
    a_second_run_writes_nothing(target, seed, tmp_path)


def test_disables_and_renames_of_members_of_order_and_role_groups_converge(target, seed, tmp_path):
    sync(target, seed, tmp_path)
    before = memberships(target)
    seed["internal_users"][1]["login"] = "t.weber"  # the only member of its role group
    seed["internal_users"][0]["enabled"] = False  # anna.schmidt, in Prepress
    person(seed, "P-20")["account"]["login"] = "peter.braun"  # the only member of its group
    person(seed, "P-11")["account"]["enabled"] = False  # acosta, in three order groups
    sync(target, seed, tmp_path)
    expected = {name: members - {"U-1", "P-11"} for name, members in before.items()}
    assert memberships(target) == expected
    assert login_of(target, "U-2") == "t.weber" and login_of(target, "P-20") == "peter.braun"
    ad_logins_follow_the_names(target)
    a_second_run_writes_nothing(target, seed, tmp_path)

    seed["internal_users"][0]["enabled"] = True
    person(seed, "P-11")["account"]["enabled"] = True
    sync(target, seed, tmp_path)
    assert memberships(target) == before
    ad_logins_follow_the_names(target)
    a_second_run_writes_nothing(target, seed, tmp_path)


def test_a_restore_that_finds_its_login_taken_is_a_record_error_naming_both(target, seed, tmp_path):
    sync(target, seed, tmp_path)
    person(seed, "P-11")["account"]["enabled"] = False  # acosta
    sync(target, seed, tmp_path)
    with target.connect() as conn:
        if target.name == "samba-ad":  # another DN, the same login: AD refuses the login
            holder = f"cn=Ana Costa (hand-made),ou=external,{target.base}"
            classes, attributes = ["user"], {"sAMAccountName": "acosta"}
        else:
            holder = target.dn("ou=external", "acosta")
            classes, attributes = ["inetOrgPerson"], {"sn": "Costa", "cn": "Ana Costa"}
        assert conn.add(holder, classes, attributes), conn.result
    person(seed, "P-11")["account"]["enabled"] = True
    report = run_sync(target.settings(seed, tmp_path, lock={"lease": False}))
    [error] = report.errors
    assert error.record == "person P-11 of customer 10002"
    assert "acosta" in error.problem and holder.lower() in error.problem.lower()
    assert "P-11" not in set().union(*memberships(target).values())
    no_login_lost = target.entries("ou=external")[holder.lower()]
    assert "member" not in no_login_lost
