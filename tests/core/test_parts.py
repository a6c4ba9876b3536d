"""Empty parts of a source, and the memberships they leave unknown (pure)."""

from __future__ import annotations

import pytest
from documents import without_part

from sync.core.grants import AccessRules
from sync.core.parts import empty_parts, protect, vanished
from sync.core.problems import Quarantine

from conftest import SEED
from core_helpers import grants_of as read_grants


def test_the_seed_has_no_empty_part():
    assert empty_parts(SEED) == []


@pytest.mark.parametrize(
    ("part", "found"),
    [
        ("accounts", ["accounts"]),
        ("persons", ["persons"]),
        ("orders", ["orders"]),
        ("roles", ["roles"]),
        ("internal_users", ["internal_users"]),
        ("customers", ["customers"]),
    ],
)
def test_a_part_emptied_below_a_full_one_is_found(part, found):
    assert empty_parts(without_part(SEED, part)) == found


def test_a_document_with_nothing_at_all_is_left_to_the_whole_broken_export():
    assert empty_parts({"format_version": 1}) == []


def test_an_empty_part_counts_only_when_the_directory_holds_more_than_the_floor_it_fed():
    orders = [f"order:O-{n}" for n in range(11)]
    assert vanished(["orders"], ["customer:10001", "external:P-1"], 10) == []
    assert vanished(["orders"], orders, 10) == ["orders"]
    assert vanished(["orders"], orders[:10], 10) == []
    assert vanished(["roles"], ["internal:U-1"], 0) == []
    assert vanished(["accounts"], ["external:P-1", "order:x"], 0) == ["accounts"]
    assert (
        vanished(["accounts"], ["external:P-1"], 0, already={"external", "customer", "order"}) == []
    )


def test_empty_accounts_keep_every_external_membership_and_group():
    quarantine = Quarantine()
    protect(quarantine, ["accounts"])
    assert {"external", "customer", "order"} <= quarantine.kinds
    grants = read_grants(
        without_part(SEED, "accounts"),
        AccessRules(),
        quarantine.kinds,
        unknown_kinds=quarantine.unknown_kinds,
    )
    assert grants.uncertain
    assert grants.keeps("external:P-1", "customer:10001")
    assert grants.keeps("external:P-1", "order:_20261120_001")
    assert not grants.keeps_all("customer:10001")
    assert not grants.keeps("internal:U-1", "role:prepress")


def test_empty_orders_keep_every_member_of_every_order_group():
    quarantine = Quarantine()
    protect(quarantine, ["orders"])
    grants = read_grants(
        without_part(SEED, "orders"),
        AccessRules(),
        quarantine.kinds,
        unknown_kinds=quarantine.unknown_kinds,
    )
    assert grants.keeps_all("order:_20261120_001")
    assert not grants.keeps_all("customer:10001")
