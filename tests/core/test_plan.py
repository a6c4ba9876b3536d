"""The planner: current + desired -> ordered changes, without a directory."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from sync.core.change import Change, Op, Reason
from sync.core.desired import Desired
from sync.core.entry import Entry
from sync.core.grants import Grants
from sync.core.membership import Applied, settle_members
from sync.core.plan import make_plan
from sync.core.problems import Quarantine

from core_helpers import BASE, MAPPING, desired_of

CONTAINERS = (f"ou=external,{BASE}", f"ou=groups,{BASE}", f"ou=orders,ou=groups,{BASE}")
ALICE = f"uid=alice,ou=external,{BASE}"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
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
    lifecycle.setdefault("now", NOW)
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
    result = make_plan(wanted, [], [CONTAINERS[0]], MAPPING, Quarantine(), now=NOW)
    assert [c.op for c in result.changes] == [Op.ADD_CONTAINER, Op.ADD_CONTAINER, Op.ADD]
    assert result.changes[0].replace == {"ou": ("groups",)}


def test_changes_are_ordered_group_deletes_disable_renames_users_then_groups():
    old_group = group("order:8", "order-8", BOB)
    result = plan([A, G], [B, old_group])
    assert [c.op for c in result.changes] == [Op.DELETE, Op.MODIFY, Op.RENAME, Op.ADD, Op.ADD]
    assert [c.key for c in result.changes] == [
        "order:8",
        "external:2",
        "external:2",
        "external:1",
        "order:7",
    ]


def test_quarantined_entries_are_not_modified_or_deleted():
    quarantine = Quarantine(keys={"external:2"})
    changed_b = user("external:2", "bob", mail=["new@x"])
    assert plan([A, changed_b], [A, B], quarantine).changes == ()
    assert plan([A], [A, B], quarantine).changes == ()


def test_a_quarantined_member_stays_only_while_the_source_grants_it():
    quarantine = Quarantine(keys={"external:2"})
    both = group("order:7", "order-7", ALICE, BOB)
    granted = Grants(members={"order:7": ("external:1", "external:2")})
    wanted = Desired({e.key: e for e in (A, G)}, CONTAINERS, disabled_base=DISABLED, grants=granted)
    assert make_plan(wanted, [A, B, both], CONTAINERS, MAPPING, quarantine, now=NOW).changes == ()
    [change] = plan([A, G], [A, B, both], Quarantine(keys={"external:2"})).changes
    assert change.delete_values == {"member": (BOB,)}


def test_a_member_whose_entry_moves_away_leaves_before_it_moves():
    both = group("order:7", "order-7", ALICE, BOB)
    mark, leave, move = plan([A, G], [A, B, both]).changes
    assert (leave.op, leave.dn, leave.delete_values) == (Op.MODIFY, G.dn, {"member": (BOB,)})
    assert (mark.reason, move.op) == (Reason.DISABLE, Op.RENAME)


def test_a_group_whose_last_member_moves_away_loses_it_with_the_dn_it_moved_to():
    alone = group("order:7", "order-7", BOB)
    moved = user("external:1", "alice")
    wanted = group("order:7", "order-7", ALICE)
    changes = plan([moved, wanted], [B, alone]).changes
    [modify] = [c for c in changes if c.key == "order:7"]
    assert modify.add_values == {"member": (ALICE,)}
    assert modify.delete_values == {"member": (BOB, f"uid=bob,{DISABLED}")}
    assert changes.index(modify) > max(i for i, c in enumerate(changes) if c.op is Op.RENAME)


def test_unidentifiable_bad_record_suspends_deletes_of_its_kind():
    assert plan([A], [A, B], Quarantine(kinds={"external"})).changes == ()


def test_two_entries_with_one_identity_are_reported_and_the_copy_left_alone():
    twin = Entry(A.key, f"uid=alice2,ou=external,{BASE}", A.attributes)
    result = plan([A], [A, twin])
    assert result.changes == ()
    assert "two entries carry its identity" in result.errors[0].problem
    assert f"{twin.dn} is not portal-sync's" in result.errors[0].problem


def test_refused_dns_are_never_written_into_groups():
    refused = Applied(refused={BOB.lower(): None})
    add = Change(Op.ADD, G.dn, G.key, replace={"cn": ("g",), "member": (ALICE, BOB)})
    kept = settle_members(add, refused, "member")
    assert kept is not None and kept.replace["member"] == (ALICE,)
    assert settle_members(replace(add, replace={"member": (BOB,)}), refused, "member") is None
    modify = Change(Op.MODIFY, G.dn, G.key, add_values={"member": (BOB,)})
    assert settle_members(modify, refused, "member") is None


def test_a_member_whose_rename_was_refused_keeps_the_dn_it_has():
    refused = Applied(refused={BOB.lower(): ALICE})
    renamed = Change(
        Op.MODIFY, G.dn, G.key, add_values={"member": (BOB,)}, delete_values={"member": (ALICE,)}
    )
    assert settle_members(renamed, refused, "member") is None
    joining = Change(Op.MODIFY, G.dn, G.key, add_values={"member": (BOB,)})
    settled = settle_members(joining, refused, "member")
    assert settled is not None and settled.add_values == {"member": (ALICE,)}


def test_seed_into_an_empty_directory_is_containers_users_then_groups(seed):
    desired, quarantine = desired_of(seed)
    result = make_plan(desired, [], [], MAPPING, quarantine, now=NOW)
    assert result.counts() == {"add-container": 7, "add": 19}
    kinds = [c.key.split(":")[0] for c in result.changes if c.key]
    assert kinds.index("customer") > max(
        i for i, k in enumerate(kinds) if k in ("internal", "external")
    )


def test_plan_of_current_equal_to_desired_is_empty(seed):
    desired, quarantine = desired_of(seed)
    result = make_plan(
        desired, list(desired.entries.values()), desired.containers, MAPPING, quarantine, now=NOW
    )
    assert result.changes == ()


def test_a_login_held_by_a_bad_records_entry_is_a_collision_and_the_dn_stays_its_own():
    quarantine = Quarantine(keys={"external:2"})
    both = group("order:7", "order-7", ALICE, BOB)
    granted = Grants(members={"order:7": ("external:1", "external:2")})
    wants_bob = user("external:1", "bob")
    wanted = Desired(
        {e.key: e for e in (wants_bob, group("order:7", "order-7", BOB))},
        CONTAINERS,
        disabled_base=DISABLED,
        records={"external:1": "person 1"},
        grants=granted,
    )
    result = make_plan(wanted, [A, B, both], CONTAINERS, MAPPING, quarantine, now=NOW)
    assert result.changes == ()
    [error] = result.errors
    assert error.record == "person 1" and error.problem.startswith("collision: its login 'bob'")
    assert "external:1" in quarantine.keys and result.unsettled == {"order:7"}


def test_a_login_held_in_the_other_user_ou_is_a_collision_too():
    staff = Entry(
        "internal:9",
        f"uid=Bob,ou=internal,{BASE}",
        {"uid": ("Bob",), "businesscategory": ("portal-sync:internal:9",)},
    )
    result = plan([staff, user("external:2", "bob")], [staff], Quarantine(keys={"internal:9"}))
    assert [c.op for c in result.changes] == []
    assert "held by uid=Bob,ou=internal" in result.errors[0].problem


def test_a_user_disabled_while_another_holds_its_name_in_the_disabled_ou_gets_its_own():
    earlier = Entry(
        "external:9",
        f"uid=bob,{DISABLED}",
        {
            "uid": ("bob",),
            "businesscategory": (
                "portal-sync:external:9",
                "portal-sync:disabled-since:2026-11-20T00:00:00+00:00",
            ),
        },
    )
    now = datetime(2026, 11, 22, tzinfo=UTC)
    _, move = plan([], [B, earlier], now=now).changes
    assert move.new_dn == f"uid=bob (external:2),{DISABLED}"


def test_a_member_value_naming_a_dn_someone_else_gets_is_judged_by_that_someone():
    stale = group("order:7", "order-7", ALICE, BOB)
    newcomer = user("external:3", "bob")
    [change] = [c for c in plan([A, newcomer, G], [A, stale]).changes if c.key == "order:7"]
    assert change.delete_values == {"member": (BOB,)}


def test_a_member_moved_under_another_name_than_planned_is_deleted_under_that_name():
    moved = Applied(relocated={f"uid=bob,{DISABLED}".lower(): f"uid=bob (x),{DISABLED}"})
    late = Change(Op.MODIFY, G.dn, G.key, delete_values={"member": (BOB, f"uid=bob,{DISABLED}")})
    settled = settle_members(late, moved, "member")
    assert settled is not None
    assert settled.delete_values == {
        "member": (BOB, f"uid=bob,{DISABLED}", f"uid=bob (x),{DISABLED}")
    }


def test_a_dn_that_changes_holder_in_one_run_leaves_before_the_move_and_comes_back():
    alice_keeps_the_group = group("order:7", "order-7", ALICE, BOB)
    newcomer = user("external:3", "bob")
    renamed = user("external:2", "robert")
    wanted = group("order:7", "order-7", ALICE, BOB)
    changes = plan([A, renamed, newcomer, wanted], [A, B, alice_keeps_the_group]).changes
    before, rename, add, after = changes
    assert (before.reason, before.delete_values) == (Reason.BEFORE_MOVE, {"member": (BOB,)})
    assert (rename.op, add.op) == (Op.RENAME, Op.ADD)
    assert after.add_values == {"member": (BOB,)} and not after.delete_values


def test_a_sole_member_whose_dn_changes_holder_is_settled_after_the_move():
    alone = group("order:7", "order-7", BOB)
    newcomer = user("external:3", "bob")
    [*_, after] = plan([newcomer, group("order:7", "order-7", BOB)], [B, alone]).changes
    assert after.add_values == {"member": (BOB,)}
    assert after.delete_values == {"member": (f"uid=bob,{DISABLED}",)}
