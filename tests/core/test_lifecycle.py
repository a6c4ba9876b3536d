"""Users are disabled, kept, then deleted; groups follow; the guard holds mass changes (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sync.core.change import Op, Reason
from sync.core.desired import Desired
from sync.core.entry import Entry
from sync.core.guard import SafetySettings, guard_reason
from sync.core.mapping import parse_mapping
from sync.core.plan import Plan, make_plan
from sync.core.problems import Quarantine

from core_helpers import BASE, MAPPING

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
DISABLED = f"ou=disabled,{BASE}"
CONTAINERS = (f"ou=external,{BASE}", DISABLED)


def user(key, login, ou="ou=external", *marks, **attributes):
    identity = (f"portal-sync:{key}", *(f"portal-sync:disabled-since:{m}" for m in marks))
    attrs = {"uid": (login,), "sn": ("S",), "businesscategory": identity}
    attrs.update({k: tuple(v) for k, v in attributes.items()})
    return Entry(key, f"uid={login},{ou},{BASE}", attrs)


def plan(desired, current, mapping=MAPPING, **kwargs):
    wanted = Desired({e.key: e for e in desired}, CONTAINERS, disabled_base=DISABLED)
    kwargs.setdefault("now", NOW)
    return make_plan(wanted, current, CONTAINERS, mapping, Quarantine(), **kwargs)


A = user("external:1", "alice")
B = user("external:2", "bob")


def test_user_leaving_the_source_is_marked_then_moved_to_the_disabled_ou():
    mark, move = plan([A], [A, B]).changes
    assert (mark.op, mark.dn, mark.reason) == (Op.MODIFY, B.dn, Reason.DISABLE)
    assert mark.add_values == {
        "businesscategory": ("portal-sync:disabled-since:2026-11-22T12:00:00+00:00",)
    }
    assert (move.op, move.new_dn, move.reason) == (Op.RENAME, f"uid=bob,{DISABLED}", Reason.DISABLE)


def test_disabled_user_is_kept_during_the_retention_period():
    kept = user("external:2", "bob", "ou=disabled", "2026-11-01T12:00:00+00:00")
    assert plan([A], [A, kept]).changes == ()


def test_disabled_user_is_deleted_when_the_retention_period_is_over():
    old = user("external:2", "bob", "ou=disabled", "2026-10-23T12:00:00+00:00")
    [change] = plan([A], [A, old]).changes
    assert (change.op, change.reason) == (Op.DELETE, Reason.RETENTION_EXPIRED)
    assert plan([A], [A, old], retention=timedelta(days=31)).changes == ()


def test_user_coming_back_is_restored_with_the_same_entry():
    kept = user("external:2", "bob", "ou=disabled", "2026-11-01T12:00:00+00:00")
    move, unmark = plan([A, B], [A, kept]).changes
    assert (move.op, move.dn, move.new_dn, move.reason) == (
        Op.RENAME,
        kept.dn,
        B.dn,
        Reason.RESTORE,
    )
    assert (unmark.op, unmark.dn) == (Op.MODIFY, B.dn)
    assert unmark.delete_values == {
        "businesscategory": ("portal-sync:disabled-since:2026-11-01T12:00:00+00:00",)
    }


def test_half_done_disable_is_finished_by_the_next_run():
    marked = user("external:2", "bob", "ou=external", "2026-11-21T12:00:00+00:00")
    [change] = plan([A], [A, marked]).changes
    assert (change.op, change.reason) == (Op.RENAME, Reason.DISABLE)


def test_mapping_can_set_attributes_while_disabled_and_restores_them():
    text = MAPPING_WITH_DISABLED
    mapping = parse_mapping(text, "m.toml")
    active = user("external:2", "bob", employeetype=["external"])
    mark, _ = plan([A], [A, active], mapping=mapping).changes
    assert mark.replace == {"employeetype": ("disabled",)}
    disabled = user(
        "external:2", "bob", "ou=disabled", "2026-11-21T12:00:00+00:00", employeetype=["disabled"]
    )
    wanted = user("external:2", "bob", employeetype=["external"])
    _, restore = plan([wanted], [disabled], mapping=mapping).changes
    assert restore.replace == {"employeetype": ("external",)}


def test_swapped_logins_rename_through_a_temporary_name():
    x = user("external:1", "alice")
    y = user("external:2", "bob")
    x_wants = user("external:1", "bob")
    y_wants = user("external:2", "alice")
    changes = plan([x_wants, y_wants], [x, y]).changes
    assert [c.op for c in changes] == [Op.RENAME, Op.RENAME, Op.RENAME]
    held = {x.dn.lower(), y.dn.lower()}
    for change in changes:
        assert change.new_dn.lower() not in held
        held.discard(change.dn.lower())
        held.add(change.new_dn.lower())
    assert held == {x.dn.lower(), y.dn.lower()}


def test_a_group_leaving_frees_its_name_before_another_takes_it():
    def group(key, name):
        return Entry(
            key,
            f"cn={name},ou=orders,ou=groups,{BASE}",
            {"cn": (name,), "member": (A.dn,), "businesscategory": (f"portal-sync:{key}",)},
        )

    changes = plan([A, group("order:new", "shared")], [A, group("order:old", "shared")]).changes
    assert [(c.op, c.key) for c in changes] == [(Op.DELETE, "order:old"), (Op.ADD, "order:new")]


def destructive_plan(count, managed):
    changes = tuple(
        change
        for i in range(count)
        for change in plan([], [user(f"external:{i}", f"u{i}")]).changes
    )
    return Plan(changes, managed=managed)


def test_guard_holds_a_run_over_the_absolute_limit():
    reason = guard_reason(destructive_plan(6, 1000), SafetySettings(max_deletions=5))
    assert reason and "more than the limit of 5" in reason


def test_guard_holds_a_run_over_the_ratio_above_the_floor():
    reason = guard_reason(destructive_plan(11, 100), SafetySettings())
    assert reason and "11 of 100 managed entries (11%)" in reason


def test_guard_lets_small_directories_delete_below_the_floor():
    assert guard_reason(destructive_plan(10, 12), SafetySettings()) is None


def test_guard_lets_an_approved_run_through():
    held = destructive_plan(11, 100)
    assert guard_reason(held, SafetySettings(), allowed=11) is None
    assert guard_reason(held, SafetySettings(), allowed=10) is not None


MAPPING_WITH_DISABLED = """
flavour = "test"
[identity]
attribute = "businessCategory"
prefix = "portal-sync:"
[container]
object_classes = ["organizationalUnit"]
[kinds.internal]
object_classes = ["inetOrgPerson"]
rdn = "uid"
[kinds.internal.attributes]
uid = "{login}"
[kinds.external]
object_classes = ["inetOrgPerson"]
rdn = "uid"
[kinds.external.attributes]
uid = "{login}"
sn = "{last_name}"
employeeType = "external"
[kinds.external.disabled]
employeeType = "disabled"
[kinds.customer]
object_classes = ["groupOfNames"]
rdn = "cn"
members = "member"
[kinds.customer.attributes]
cn = "{group_name}"
[kinds.order]
object_classes = ["groupOfNames"]
rdn = "cn"
members = "member"
[kinds.order.attributes]
cn = "{group_name}"
[kinds.role]
object_classes = ["groupOfNames"]
rdn = "cn"
members = "member"
[kinds.role.attributes]
cn = "{group_name}"
"""
