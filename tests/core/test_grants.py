"""Who the source grants which group, read field by field, bad records included (pure)."""

from __future__ import annotations

import pytest

from sync.core.grants import AccessRules

from core_helpers import grants_of as read_grants

ALLOW = AccessRules(agency_without_customer_access=True)
DEFAULT = AccessRules()


def person(pid, login=None, **fields):
    record = {"id": pid, "last_name": f"L{pid}", "contact_types": ["customer"], **fields}
    if login is not None:
        record["account"] = {"login": login}
    return record


def document(**overrides):
    data = {
        "format_version": 1,
        "internal_users": [
            {"id": "U-1", "login": "anna", "last_name": "A", "groups": ["Prepress", "Press"]},
            {"id": "U-2", "login": "tom", "last_name": "T", "groups": ["prepress"], "enabled": 0},
        ],
        "customers": [
            {"id": "10", "name": "A", "remote_access": True, "persons": [person("P-1", "ana")]},
            {
                "id": "20",
                "name": "Agency",
                "remote_access": True,
                "agency": True,
                "persons": [person("P-2", "bo")],
            },
            {"id": "30", "name": "No portal", "persons": [person("P-3", "cy")]},
        ],
        "orders": [
            {"id": "O-1", "customer": "10", "agency": "20", "portal_visible": True},
            {"id": "O-2", "customer": "30", "agency": "20", "portal_visible": True},
        ],
    }
    data.update(overrides)
    return data


def members(data, group, rules=DEFAULT, **kwargs):
    return set(read_grants(data, rules, **kwargs).members.get(group, ()))


def test_a_valid_document_grants_customer_agency_and_role_groups():
    grants = read_grants(document(), AccessRules())
    assert grants.members["customer:10"] == ("external:P-1",)
    assert grants.members["order:O-1"] == ("external:P-1", "external:P-2")
    assert grants.members["role:prepress"] == ("internal:U-1",)
    assert grants.role_names == {"role:prepress": "Prepress", "role:press": "Press"}
    assert "customer:30" not in grants.members


def test_an_agency_gets_no_order_of_a_customer_without_remote_access_unless_allowed():
    grants = read_grants(document(), AccessRules())
    assert "order:O-2" not in grants.members
    assert "has no remote access" in grants.notes["order:O-2"]
    assert members(document(), "order:O-2", ALLOW) == {"external:P-2"}


def test_a_record_failing_validation_still_grants_what_its_fields_say():
    data = document()
    del data["customers"][0]["persons"][0]["last_name"]
    data["customers"][0]["persons"][0]["contact_types"] = ["unknown"]
    del data["customers"][0]["name"]
    data["orders"][0]["name"] = {"not": "text"}
    assert members(data, "customer:10") == {"external:P-1"}
    assert members(data, "order:O-1") == {"external:P-1", "external:P-2"}


@pytest.mark.parametrize(
    ("agency", "note"),
    [("99", "agency 99 does not exist"), ("10", "not flagged as an agency")],
)
def test_a_broken_agency_reference_grants_nothing_through_it(agency, note):
    data = document()
    data["orders"][0]["agency"] = agency
    grants = read_grants(data, AccessRules())
    assert grants.members["order:O-1"] == ("external:P-1",)
    assert note in grants.notes["order:O-1"]
    assert not grants.keeps("external:P-2", "order:O-1")


def test_an_unknown_customer_grants_nothing():
    data = document()
    data["orders"][0]["customer"] = "42"
    grants = read_grants(data, AccessRules())
    assert "order:O-1" not in grants.members
    assert "customer 42 does not exist" in grants.notes["order:O-1"]


def test_disabled_or_missing_accounts_grant_nothing():
    data = document()
    data["customers"][0]["persons"][0]["account"]["enabled"] = "false"
    data["customers"][1]["persons"][0].pop("account")
    assert members(data, "order:O-1") == set()


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("customers", 0, "persons", 0, "account", "enabled"), "maybe"),
        (("customers", 0, "persons", 0, "account"), "not an object"),
    ],
)
def test_an_unreadable_account_keeps_that_users_memberships_as_they_are(path, value):
    data = document()
    target = data
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    grants = read_grants(data, AccessRules())
    assert not grants.grants("external:P-1", "customer:10")
    assert grants.keeps("external:P-1", "customer:10")
    assert not grants.keeps("external:P-2", "order:O-1")


@pytest.mark.parametrize(
    ("field", "value"),
    [("portal_visible", "sometimes"), ("customer", {"id": 10}), ("agency", ["20"])],
)
def test_an_order_with_an_unreadable_field_keeps_its_members_as_they_are(field, value):
    data = document()
    data["orders"][0][field] = value
    grants = read_grants(data, AccessRules())
    assert grants.keeps_all("order:O-1") and grants.keeps("external:anyone", "order:O-1")


def test_records_sharing_an_id_keep_what_they_have_and_gain_nothing():
    data = document()
    data["customers"][2]["persons"].append(person("p-1", "other"))
    data["customers"].append({"id": "10", "name": "Copy", "remote_access": True})
    grants = read_grants(data, AccessRules())
    assert grants.keeps("external:P-1", "customer:10")
    assert grants.keeps_all("customer:10") and grants.keeps_all("order:O-1")


def test_an_unidentified_record_keeps_the_memberships_of_unnamed_entries_only():
    grants = read_grants(document(), AccessRules(), suspended=["external"])
    assert grants.keeps("external:P-9", "customer:10")
    assert not grants.keeps("external:P-1", "customer:10")


def test_a_broken_export_keeps_every_membership_and_adds_none():
    grants = read_grants(document(), AccessRules(), broken_export=True)
    assert grants.keeps("external:P-1", "customer:10") and grants.uncertain
    assert grants.members == {}


def test_ids_and_flags_read_the_way_the_model_reads_them():
    data = document()
    data["customers"][0]["id"] = 10
    data["customers"][0]["remote_access"] = "yes"
    data["orders"][0]["customer"] = 10
    assert members(data, "order:O-1") == {"external:P-1", "external:P-2"}
    data["customers"][0]["id"] = " 10"
    assert members(data, "customer: 10") == set() and members(data, "customer:10") == set()


def test_records_stripped_to_the_fields_read_grant_exactly_what_whole_records_grant():
    """The document reader strips parsed records to FIELDS_READ before reading the grants."""
    import copy

    from benchmarks.generate import generate
    from sync.core.rules import keep_fields_read

    generated = generate("S", 3)
    generated["customers"][0]["persons"][0]["account"] = {"login": "x", "enabled": "maybe"}
    generated["orders"][0]["agency"] = ["not", "an", "id"]
    for data in (document(), generated):
        for rules in (ALLOW, DEFAULT):
            stripped = copy.deepcopy(data)
            for name in ("internal_users", "customers", "orders"):
                for record in stripped[name]:
                    keep_fields_read(record)
            assert stripped != data
            assert read_grants(stripped, rules) == read_grants(data, rules)


def test_a_users_groups_are_every_group_granting_that_user():
    grants = read_grants(document(), ALLOW)
    users = {user for members in grants.members.values() for user in members}
    assert users, "the document grants nobody: the test would prove nothing"
    for user in [*users, "external:nobody"]:
        scanned = {group for group, members in grants.members.items() if user in members}
        assert set(grants.groups_of(user)) == scanned
        assert len(grants.groups_of(user)) == len(scanned)
