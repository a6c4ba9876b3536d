"""The planner: current + desired -> ordered changes, without a directory."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sync.desired import Desired
from sync.entry import Entry
from sync.plan import Change, Op, make_plan, without_members
from sync.problems import Quarantine

from core_helpers import BASE, MAPPING, desired_of

CONTAINERS = (f"ou=external,{BASE}", f"ou=groups,{BASE}", f"ou=orders,ou=groups,{BASE}")
ALICE = f"uid=alice,ou=external,{BASE}"
BOB = f"uid=bob,ou=external,{BASE}"


def user(key, login, **attributes):
    attrs = {
        "uid": (login,),
        "sn": ("S",),
        "cn": ("C S",),
        "mail": (),
        "businesscategory": (f"portal-sync:{key}",),
    }
    attrs.update({k: tuple(v) for k, v in attributes.items()})
    return Entry(key, f"uid={login},ou=external,{BASE}", attrs)


def group(key, name, *member_dns):
    return Entry(
        key,
        f"cn={name},ou=orders,ou=groups,{BASE}",
        {
            "cn": (name,),
            "description": ("d",),
            "member": tuple(member_dns),
            "businesscategory": (f"portal-sync:{key}",),
        },
    )


DISABLED = f"ou=disabled,{BASE}"


def plan(desired, current, quarantine=None, containers=CONTAINERS, **lifecycle):
    wanted = Desired({e.key: e for e in desired}, containers, disabled_base=DISABLED)
    return make_plan(wanted, current, containers, MAPPING, quarantine or Quarantine(), **lifecycle)


def ops(result):
    return [(c.op, c.dn) for c in result.changes]


A = user("external:1", "alice")
B = user("external:2", "bob")
G = group("order:7", "order-7", ALICE)


CASES = {
    "nothing changed": ([A, G], [A, G], []),
    "add user": ([A, B], [A], [(Op.ADD, BOB)]),
    "user removed is disabled": ([A], [A, B], [(Op.MODIFY, BOB), (Op.RENAME, BOB)]),
    "group removed": ([A], [A, G], [(Op.DELETE, G.dn)]),
    "modify one attribute": (
        [user("external:1", "alice", mail=["a@x"])],
        [A],
        [(Op.MODIFY, ALICE)],
    ),
    "member added": (
        [A, B, group("order:7", "order-7", ALICE, BOB)],
        [A, B, G],
        [(Op.MODIFY, G.dn)],
    ),
    "member removed": (
        [A, B, G],
        [A, B, group("order:7", "order-7", ALICE, BOB)],
        [(Op.MODIFY, G.dn)],
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_planner_cases(name):
    desired, current, expected = CASES[name]
    assert ops(plan(desired, current)) == expected


def test_modify_replaces_only_the_changed_attribute():
    [change] = plan([user("external:1", "alice", mail=["a@x"])], [A]).changes
    assert dict(change.replace) == {"mail": ("a@x",)}


def test_membership_changes_are_value_level():
    [change] = plan([A, B, group("order:7", "order-7", ALICE, BOB)], [A, B, G]).changes
    assert dict(change.add_values) == {"member": (BOB,)} and not change.replace
    [change] = plan([A, B, G], [A, B, group("order:7", "order-7", ALICE, BOB)]).changes
    assert dict(change.delete_values) == {"member": (BOB,)} and not change.replace


def test_member_dns_compare_case_and_escaping_insensitively():
    spelled = group("order:7", "order-7", ALICE.upper().replace("UID=ALICE", "uid=Alice"))
    assert plan([A, G], [A, spelled]).changes == ()


def test_removed_attribute_value_is_replaced_by_nothing():
    with_mail = user("external:1", "alice", mail=["a@x"])
    [change] = plan([A], [with_mail]).changes
    assert dict(change.replace) == {"mail": ()}


def test_unmapped_attributes_are_left_alone():
    extra = Entry(A.key, A.dn, {**A.attributes, "userpassword": ("{SSHA}x",), "title": ("Boss",)})
    assert plan([A], [extra]).changes == ()


def test_changed_login_is_a_rename_of_the_same_entry():
    renamed = user("external:1", "alicia")
    [change] = plan([renamed], [A]).changes
    assert (change.op, change.dn, change.new_dn) == (Op.RENAME, A.dn, renamed.dn)


def test_login_changing_only_in_case_is_still_a_rename():
    [change] = plan([user("external:1", "Alice")], [A]).changes
    assert change.op is Op.RENAME


def test_missing_containers_are_added_first():
    result = plan([A], [], containers=CONTAINERS)
    wanted = Desired({A.key: A}, CONTAINERS, disabled_base=DISABLED)
    result = make_plan(wanted, [], [CONTAINERS[0]], MAPPING, Quarantine())
    assert [c.op for c in result.changes] == [Op.ADD_CONTAINER, Op.ADD_CONTAINER, Op.ADD]
    assert result.changes[0].replace == {"ou": ("groups",)}


def test_changes_are_ordered_disable_renames_users_groups_then_deletes():
    old_group = group("order:8", "order-8", BOB)
    result = plan([A, G], [B, old_group])
    assert [c.op for c in result.changes] == [Op.MODIFY, Op.RENAME, Op.ADD, Op.ADD, Op.DELETE]
    assert [c.key for c in result.changes] == [
        "external:2",
        "external:2",
        "external:1",
        "order:7",
        "order:8",
    ]


def test_quarantined_entries_are_not_modified_deleted_or_dropped_from_groups():
    quarantine = Quarantine(keys={"external:2"})
    changed_b = user("external:2", "bob", mail=["new@x"])
    both = group("order:7", "order-7", ALICE, BOB)
    assert plan([A, G], [A, B, both], quarantine).changes == ()
    assert plan([A, changed_b], [A, B], quarantine).changes == ()


def test_unidentifiable_bad_record_suspends_deletes_of_its_kind():
    assert plan([A], [A, B], Quarantine(kinds={"external"})).changes == ()


def test_two_entries_with_one_identity_are_reported_and_left_alone():
    twin = Entry(A.key, f"uid=alice2,ou=external,{BASE}", A.attributes)
    result = plan([A], [A, twin])
    assert result.changes == ()
    assert "two entries carry this identity" in result.errors[0].problem


def test_without_members_drops_refused_dns_from_group_writes():
    add = Change(Op.ADD, G.dn, G.key, replace={"cn": ("g",), "member": (ALICE, BOB)})
    kept = without_members(add, {BOB.lower()}, "member")
    assert kept is not None and kept.replace["member"] == (ALICE,)
    assert (
        without_members(replace(add, replace={"member": (BOB,)}), {BOB.lower()}, "member") is None
    )
    modify = Change(Op.MODIFY, G.dn, G.key, add_values={"member": (BOB,)})
    assert without_members(modify, {BOB.lower()}, "member") is None


def test_seed_into_an_empty_directory_is_containers_users_then_groups(seed):
    desired, quarantine = desired_of(seed)
    result = make_plan(desired, [], [], MAPPING, quarantine)
    assert result.counts() == {"add-container": 7, "add": 19}
    kinds = [c.key.split(":")[0] for c in result.changes if c.key]
    assert kinds.index("customer") > max(
        i for i, k in enumerate(kinds) if k in ("internal", "external")
    )


def test_plan_of_current_equal_to_desired_is_empty(seed):
    desired, quarantine = desired_of(seed)
    result = make_plan(
        desired, list(desired.entries.values()), desired.containers, MAPPING, quarantine
    )
    assert result.changes == ()
