"""The spine against a real slapd: the seed scenario, a second run, and one change at a time."""

from __future__ import annotations

import pytest

from sync.run.sync import run_sync

import seed_table
from directory_view import entries, groups, users, write_stamps


def sync(settings):
    report = run_sync(settings)
    assert report.ok, report.failure
    return report


@pytest.fixture
def synced(settings_for, seed, slapd):
    """Sync the seed scenario; return (settings factory, document, server)."""
    sync(settings_for(seed))
    return settings_for, seed, slapd


def test_seed_scenario_gives_exactly_the_documented_tree(synced):
    _, _, server = synced
    assert users(server, "ou=internal") == seed_table.INTERNAL_USERS
    assert users(server, "ou=external") == seed_table.EXTERNAL_USERS
    assert groups(server, "ou=customers,ou=groups") == seed_table.CUSTOMER_GROUPS
    assert groups(server, "ou=orders,ou=groups") == seed_table.ORDER_GROUPS
    assert groups(server, "ou=roles,ou=groups") == seed_table.ROLE_GROUPS


def test_sophie_martin_in_two_contact_types_has_one_entry(synced):
    _, _, server = synced
    smartin = [dn for dn, a in entries(server).items() if a.get("uid") == ["smartin"]]
    assert len(smartin) == 1


def test_second_run_writes_nothing(synced):
    settings_for, seed, server = synced
    before = write_stamps(server)
    report = sync(settings_for(seed))
    assert report.changes == []
    assert write_stamps(server) == before


def test_new_agency_person_joins_every_order_of_the_agency_and_nothing_else(synced):
    settings_for, seed, server = synced
    agency = next(c for c in seed["customers"] if c["id"] == "10002")
    agency["persons"].append(
        {
            "id": "P-12",
            "first_name": "Rita",
            "last_name": "Alves",
            "contact_types": ["ct-design"],
            "account": {"login": "ralves", "enabled": True},
        }
    )
    report = sync(settings_for(seed))
    orders = groups(server, "ou=orders,ou=groups")
    assert {name for name, members in orders.items() if "ralves" in members} == {
        "order-_20261120_001",
        "order-_20261120_002",
        "order-_20261121_003",
    }
    assert groups(server, "ou=customers,ou=groups")["X10002-Agência Criativa Lda"] == {
        "jsilva",
        "acosta",
        "ralves",
    }
    assert report.counts() == {"add": 1, "modify": 4}
    assert all(
        set(c.add_values) == {"member"} and not c.delete_values and not c.replace
        for c in report.changes
        if c.op.value == "modify"
    )


def test_removing_the_agency_from_an_order_changes_only_that_group(synced):
    settings_for, seed, server = synced
    before = groups(server, "ou=orders,ou=groups")
    del next(o for o in seed["orders"] if o["id"] == "_20261120_001")["agency"]
    report = sync(settings_for(seed))
    after = groups(server, "ou=orders,ou=groups")
    assert after["order-_20261120_001"] == {"cdubois", "mlefevre", "smartin"}
    assert {k: v for k, v in after.items() if k != "order-_20261120_001"} == {
        k: v for k, v in before.items() if k != "order-_20261120_001"
    }
    [change] = report.changes
    assert change.dn.startswith("cn=order-_20261120_001,")
    assert {v.split(",")[0] for v in change.delete_values["member"]} == {"uid=jsilva", "uid=acosta"}


def test_sophie_martin_leaving_one_of_two_contact_types_changes_nothing(synced):
    settings_for, seed, server = synced
    before = write_stamps(server)
    sophie = next(p for p in seed["customers"][0]["persons"] if p["id"] == "P-3")
    sophie["contact_types"] = ["ct-compta"]
    report = sync(settings_for(seed))
    assert report.changes == []
    assert write_stamps(server) == before


def test_customer_losing_remote_access_takes_its_users_out_of_every_group(synced):
    settings_for, seed, server = synced
    next(c for c in seed["customers"] if c["id"] == "10003")["remote_access"] = False
    sync(settings_for(seed))
    every_member = set().union(
        *groups(server, "ou=orders,ou=groups").values(),
        *groups(server, "ou=customers,ou=groups").values(),
    )
    assert "pbraun" not in every_member
    assert "X10003-Weingut Sonnenhang GmbH" not in groups(server, "ou=customers,ou=groups")
    assert "order-_20261121_003" not in groups(server, "ou=orders,ou=groups")


def test_order_becoming_invisible_loses_its_group(synced):
    settings_for, seed, server = synced
    next(o for o in seed["orders"] if o["id"] == "RA_4726")["portal_visible"] = False
    sync(settings_for(seed))
    assert "order-RA_4726" not in groups(server, "ou=orders,ou=groups")
    assert len(groups(server, "ou=orders,ou=groups")) == 3


def test_internal_user_changing_group_moves_between_role_groups(synced):
    settings_for, seed, server = synced
    tom = next(u for u in seed["internal_users"] if u["login"] == "tom.weber")
    tom["groups"] = ["Prepress"]
    sync(settings_for(seed))
    roles = groups(server, "ou=roles,ou=groups")
    assert roles["Prepress"] == {"anna.schmidt", "admin.print", "tom.weber"}
    assert "Customer Sales Representatives" not in roles


def test_changed_email_is_one_attribute_level_modify(synced):
    settings_for, seed, server = synced
    seed["customers"][0]["persons"][0]["email"] = "claire@lumiere.example"
    report = sync(settings_for(seed))
    [change] = report.changes
    assert change.op.value == "modify" and dict(change.replace) == {
        "mail": ("claire@lumiere.example",)
    }
    dn = change.dn
    assert entries(server)[dn]["mail"] == ["claire@lumiere.example"]


def test_disabled_account_keeps_no_group(synced):
    settings_for, seed, server = synced
    seed["customers"][1]["persons"][1]["account"]["enabled"] = False
    sync(settings_for(seed))
    every_member = set().union(
        *groups(server, "ou=orders,ou=groups").values(),
        *groups(server, "ou=customers,ou=groups").values(),
    )
    assert "acosta" not in every_member


def test_names_with_dn_special_characters_sync_and_stay_stable(settings_for, seed, slapd):
    seed["customers"][0]["name"] = "Dupont, Fils & Cie"
    seed["customers"][1]["name"] = '#1 Print+Co <"best">; =\\ '
    seed["customers"][0]["persons"][1]["account"]["login"] = "m,lefevre+1"
    sync(settings_for(seed))
    customers = groups(slapd, "ou=customers,ou=groups")
    assert "X10001-Dupont, Fils & Cie" in customers
    assert 'X10002-#1 Print+Co <"best">; =\\' in customers
    before = write_stamps(slapd)
    assert sync(settings_for(seed)).changes == []
    assert write_stamps(slapd) == before
