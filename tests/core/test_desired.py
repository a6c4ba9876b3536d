"""The desired tree, built without a directory."""

from __future__ import annotations

from sync.core.entry import Kind
from sync.core.tree import Layout

import seed_table
from core_helpers import BASE, desired_of, uid_of


def by_kind(desired, kind):
    return {
        e.dn.split(",", 1)[0].split("=", 1)[1]: e
        for e in desired.entries.values()
        if e.kind is kind
    }


def members(entry):
    return {uid_of(dn) for dn in entry.attributes["member"]}


def test_seed_desired_tree_equals_the_documented_table(seed):
    desired, _ = desired_of(seed)
    assert set(by_kind(desired, Kind.INTERNAL)) == seed_table.INTERNAL_USERS
    assert set(by_kind(desired, Kind.EXTERNAL)) == seed_table.EXTERNAL_USERS
    for kind, table in (
        (Kind.CUSTOMER, seed_table.CUSTOMER_GROUPS),
        (Kind.ORDER, seed_table.ORDER_GROUPS),
        (Kind.ROLE, seed_table.ROLE_GROUPS),
    ):
        assert {name: members(e) for name, e in by_kind(desired, kind).items()} == table


def test_users_live_in_their_ous_and_carry_their_identity(seed):
    desired, _ = desired_of(seed)
    claire = desired.entries["external:P-1"]
    assert claire.dn == f"uid=cdubois,ou=external,{BASE}"
    assert claire.attributes["businesscategory"] == ("portal-sync:external:P-1",)
    assert claire.attributes["o"] == ("Éditions Lumière",)
    assert claire.attributes["mobile"] == ()
    assert desired.entries["internal:U-1"].dn == f"uid=anna.schmidt,ou=internal,{BASE}"


def test_containers_come_parents_first(seed):
    desired, _ = desired_of(seed)
    assert desired.containers.index(f"ou=groups,{BASE}") < desired.containers.index(
        f"ou=orders,ou=groups,{BASE}"
    )
    assert len(desired.containers) == 7


def test_group_names_follow_the_layout_templates(seed):
    layout = Layout(customer_group_name="X{id}-{nickname}", order_group_name="job {id} {name}")
    desired, _ = desired_of(seed, layout)
    assert "X10001-LUMIERE" in by_kind(desired, Kind.CUSTOMER)
    assert "job RA_4726 Flyer salon" in by_kind(desired, Kind.ORDER)


def test_customer_without_users_gets_no_group(seed):
    for person in seed["customers"][2]["persons"]:
        person["account"]["enabled"] = False
    desired, _ = desired_of(seed)
    assert "customer:10003" not in desired.entries
    assert members(desired.entries["order:_20261121_003"]) == {"jsilva", "acosta"}


def test_two_records_wanting_one_dn_are_both_held(seed):
    seed["customers"][1]["name"] = "Éditions Lumière"
    layout = Layout(customer_group_name="{name}")
    desired, quarantine = desired_of(seed, layout)
    assert "customer:10001" not in desired.entries and "customer:10002" not in desired.entries
    assert {"customer:10001", "customer:10002"} <= quarantine.keys
    assert {e.record for e in desired.errors} == {"customer 10001", "customer 10002"}


def test_role_groups_merge_names_differing_only_in_case(seed):
    seed["internal_users"][1]["groups"] = ["prepress"]
    desired, _ = desired_of(seed)
    assert members(desired.entries["role:prepress"]) == {"anna.schmidt", "admin.print", "tom.weber"}
