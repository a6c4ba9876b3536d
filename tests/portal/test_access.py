"""Access answers computed from the source rules, and drift, without a server."""

from __future__ import annotations

from sync.portal.access import drift, granted_orders
from sync.run.passwords import source_accounts
from sync.sources.document import load_data

from core_helpers import built, desired_of
from seed_table import EXTERNAL_USERS, INTERNAL_USERS, ORDER_GROUPS

SEED_ORDERS = {
    login: {name.removeprefix("order-") for name, logins in ORDER_GROUPS.items() if login in logins}
    for login in INTERNAL_USERS | EXTERNAL_USERS | {"lbernard"}
}


def keys_by_login(document):
    keys = {u["login"]: f"internal:{u['id']}" for u in document["internal_users"]}
    for customer in document["customers"]:
        for person in customer["persons"]:
            if person.get("account"):
                keys[person["account"]["login"]] = f"external:{person['id']}"
    return keys


def test_the_rules_grant_exactly_the_seed_table(seed):
    desired, _ = desired_of(seed)
    keys = keys_by_login(seed)
    for login, orders in SEED_ORDERS.items():
        assert granted_orders(desired.grants, keys[login]) == orders, login


def test_the_rules_list_the_customers_and_agency_users_of_an_order(seed):
    desired, _ = desired_of(seed)
    members = desired.grants.members
    assert set(members["order:_20261121_003"]) == {
        "external:P-20",
        "external:P-10",
        "external:P-11",
    }
    assert "order:_20261121_004" not in members


def test_drift_names_what_the_directory_adds_and_lacks():
    found = drift({"RA_4726", "_20261121_003"}, {"_20261121_003", "_20261120_001"})
    assert found.extra == ("RA_4726",) and found.missing == ("_20261120_001",)
    assert "DRIFT" in found.lines("orders of x")[0]
    assert drift({"a"}, {"a"}).none


def test_source_accounts_carry_hashes_but_never_show_them(seed):
    seed["customers"][0]["persons"][0]["account"]["password_hash"] = "{SSHA}c2VjcmV0"
    loaded = load_data(seed)
    accounts = source_accounts(built(seed).verdicts)
    assert accounts["external:P-1"].password_hash == "{SSHA}c2VjcmV0"
    assert accounts["internal:U-1"].password_hash is None
    assert "c2VjcmV0" not in repr(loaded.document) + repr(accounts)
