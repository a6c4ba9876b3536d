"""The SCIM planner and the client's pure helpers, as tables of cases (no server)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from sync.core.entry import Kind
from sync.core.grants import Grants
from sync.core.problems import Quarantine
from sync.targets.scim.client import retry_after
from sync.targets.scim.plan import (
    Pushed,
    Request,
    Step,
    group_digests,
    make_plan,
    patch_operations,
    quoted,
)
from sync.targets.scim.resources import Wanted, WantedGroup, WantedUser, user_payload

NOW = datetime(2026, 11, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def user(key: str, login: str, email: str = "") -> WantedUser:
    values = {"login": login, "first_name": "A", "last_name": "B", "email": email}
    return WantedUser(key, key, user_payload(key, Kind.INTERNAL, values))


def pushed_as(wanted_user: WantedUser, id_: str = "id-1") -> Pushed:
    return Pushed(id_, wanted_user.digests())


def plan(wanted, pushed, quarantine=None, grants=None, now=NOW):
    return make_plan(
        wanted,
        pushed,
        quarantine or Quarantine(),
        grants or Grants(),
        now=now,
        retention=30 * DAY,
        records={},
    ).requests


def steps(requests: list[Request]) -> list[tuple[Step, str]]:
    return [(r.step, r.key) for r in requests]


def test_a_new_user_is_created_and_an_unchanged_one_is_left_alone():
    anna, tom = user("internal:U-1", "anna"), user("internal:U-2", "tom")

    found = plan(Wanted({anna.key: anna, tom.key: tom}), {tom.key: pushed_as(tom)})

    assert steps(found) == [(Step.CREATE_USER, "internal:U-1")]
    assert found[0].replace["userName"] == "anna"


def test_a_changed_attribute_is_one_update_of_that_attribute_only():
    before, after = user("internal:U-1", "anna"), user("internal:U-1", "anna.s")

    [request] = plan(Wanted({after.key: after}), {after.key: pushed_as(before)})

    assert request.step is Step.UPDATE_USER
    assert request.replace == {"userName": "anna.s"}
    assert patch_operations(request, {}) == [
        {"op": "replace", "path": "userName", "value": "anna.s"}
    ]


def test_an_attribute_the_source_no_longer_has_is_removed():
    before = user("internal:U-1", "anna", "anna@example.org")
    after = user("internal:U-1", "anna")

    [request] = plan(Wanted({after.key: after}), {after.key: pushed_as(before)})

    assert (request.replace, request.remove) == ({}, ("emails",))


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        (None, [(Step.DISABLE_USER, "internal:U-1")]),
        (NOW - 29 * DAY, []),
        (NOW - 30 * DAY, [(Step.DELETE_USER, "internal:U-1")]),
    ],
)
def test_a_user_that_left_is_disabled_then_deleted_after_the_retention(since, expected):
    gone = user("internal:U-1", "anna")
    pushed = {gone.key: Pushed("id-1", gone.digests(), disabled_since=since)}

    assert steps(plan(Wanted(), pushed)) == expected


def test_a_record_in_error_keeps_its_user_as_it_is_even_when_it_changed_or_left():
    before, after = user("internal:U-1", "anna"), user("internal:U-1", "anna.s")
    quarantine = Quarantine(keys={before.key})

    assert plan(Wanted({after.key: after}), {after.key: pushed_as(before)}, quarantine) == []
    assert plan(Wanted(), {after.key: pushed_as(before)}, quarantine) == []


def test_a_kind_whose_deletions_are_suspended_disables_and_deletes_nothing():
    gone = user("external:P-1", "claire")
    group = "order:1"
    pushed = {gone.key: pushed_as(gone), group: Pushed("g-1", members=(gone.key,))}

    quarantine = Quarantine(kinds={"external", "order"})

    assert plan(Wanted(), pushed, quarantine) == []


def test_members_are_added_and_removed_one_by_one_never_the_whole_group():
    claire, marc = user("external:P-1", "claire"), user("external:P-2", "marc")
    group = WantedGroup("order:1", "order 1", "order-1", (marc.key,))
    pushed = {
        claire.key: pushed_as(claire, "c"),
        marc.key: pushed_as(marc, "m"),
        group.key: Pushed("g", {"displayName": ""}, (claire.key,)),
    }

    pushed[group.key].digests = group_digests("order-1")

    [request] = plan(Wanted({claire.key: claire, marc.key: marc}, {group.key: group}), pushed)

    assert request.step is Step.UPDATE_GROUP
    assert patch_operations(request, {claire.key: "c", marc.key: "m"}) == [
        {"op": "add", "path": "members", "value": [{"value": "m"}]},
        {"op": "remove", "path": 'members[value eq "c"]'},
    ]


@pytest.mark.parametrize(
    ("quarantine", "grants"),
    [
        (Quarantine(keys={"external:P-1"}), Grants()),
        (Quarantine(), Grants(unknown_users=frozenset({"external:P-1"}))),
        (Quarantine(), Grants(unknown_all=True)),
    ],
)
def test_a_member_in_error_or_of_unknown_membership_stays(quarantine, grants):
    claire = user("external:P-1", "claire")
    group = WantedGroup("order:1", "order 1", "order-1", ())
    pushed = {
        claire.key: pushed_as(claire, "c"),
        group.key: Pushed("g", group_digests("order-1"), (claire.key,)),
    }

    wanted = Wanted({claire.key: claire}, {group.key: group})
    assert plan(wanted, pushed, quarantine, grants) == []
    assert plan(wanted, pushed)[0].remove_members == (claire.key,)


@pytest.mark.parametrize(
    "value",
    ["plain", 'with "quotes"', "back\\slash", "\u202eevil", "clé", 'a\\"b', "new\nline"],
)
def test_a_filter_literal_reads_back_as_the_value(value):
    literal = quoted(value)

    assert literal.startswith('"') and literal.endswith('"')
    assert json.loads(literal) == value
    assert '"' not in literal[1:-1].replace('\\"', "")


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, 1.0),
        ("7", 7.0),
        ("-3", 0.0),
        ("Sun, 01 Nov 2026 00:00:30 GMT", 30.0),
        ("soon", 1.0),
    ],
)
def test_retry_after_is_read_as_seconds_or_as_a_date(header, seconds):
    assert retry_after(header, datetime(2026, 11, 1, tzinfo=UTC)) == seconds
