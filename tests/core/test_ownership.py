"""Which of the entries carrying one identity is portal-sync's, and logins others hold."""

from __future__ import annotations

from test_plan import ALICE, BOB, A, B, group, plan

from sync.core.change import Op
from sync.core.entry import Entry
from sync.core.ownership import BY_DN, BY_UNIQUE_ID, Owners, claim, owners_after

from core_helpers import BASE

COPY = f"uid=zzcopy,ou=external,{BASE}"


def copy_of(entry, dn, unique="uuid-copy"):
    return Entry(
        entry.key, dn, {**entry.attributes, "uid": (dn[4:].split(",")[0],), "entryuuid": (unique,)}
    )


def with_id(entry, unique):
    return Entry(entry.key, entry.dn, {**entry.attributes, "entryuuid": (unique,)})


def renamed(entry, login, unique):
    return Entry(
        entry.key, f"uid={login},ou=external,{BASE}", {**entry.attributes, "entryuuid": (unique,)}
    )


RECORDED = Owners("entryuuid", {A.key: "uuid-alice"})


def members(result, dn):
    """Return the member values a plan adds to and deletes from the group at `dn`."""
    added, deleted = set(), set()
    for change in result.changes:
        if change.op is Op.MODIFY and change.dn == dn:
            added |= set(change.add_values.get("member", ()))
            deleted |= set(change.delete_values.get("member", ()))
    return added, deleted


def test_the_recorded_unique_id_decides_before_the_dn():
    real, fake = renamed(A, "alice.r", "uuid-alice"), copy_of(A, ALICE)
    decided = claim([fake, real], RECORDED, ALICE, lambda dn: False)
    assert decided.owner is real and decided.others == (fake,) and decided.how == BY_UNIQUE_ID


def test_without_a_recorded_id_the_entry_at_the_source_dn_is_portal_syncs():
    real, fake = with_id(A, "uuid-x"), copy_of(A, COPY)
    decided = claim([fake, real], Owners(), ALICE, lambda dn: False)
    assert decided.owner is real and decided.how == BY_DN


def test_the_dn_does_not_decide_when_the_other_entry_holds_memberships():
    real, fake = renamed(A, "alice.r", "uuid-x"), copy_of(A, ALICE)
    decided = claim([fake, real], Owners(), ALICE, lambda dn: dn == real.dn)
    assert decided.owner is None and decided.others == (fake, real)


def test_a_copy_in_a_group_loses_it_and_the_user_gets_it_back():
    real, fake = with_id(A, "uuid-alice"), copy_of(A, COPY)
    result = plan(
        [A, group("order:7", "order-7", ALICE)],
        [fake, real, group("order:7", "order-7", COPY)],
        owners=RECORDED,
    )
    added, deleted = members(result, f"cn=order-7,ou=orders,ou=groups,{BASE}")
    assert added == {ALICE} and deleted == {COPY}
    assert not [c for c in result.changes if c.dn == COPY]
    assert "gets no membership" in result.errors[0].problem
    assert result.owners == {A.key: "uuid-alice"}


def test_a_user_renamed_by_hand_keeps_its_dn_and_groups_while_a_copy_holds_its_own():
    real, fake = renamed(A, "alice.r", "uuid-alice"), copy_of(A, ALICE)
    current = [fake, real, group("order:7", "order-7", real.dn)]
    result = plan([A, group("order:7", "order-7", ALICE)], current, owners=RECORDED)
    assert result.changes == (), result.changes
    assert {e.problem.split(":")[0] for e in result.errors} == {
        "two entries carry its identity",
        "collision",
    }


def test_entries_that_cannot_be_told_apart_keep_their_memberships_and_get_none():
    one, two = renamed(A, "alice.r", "uuid-1"), copy_of(A, COPY, "uuid-2")
    current = [one, two, B, group("order:7", "order-7", one.dn)]
    result = plan([A, B, group("order:7", "order-7", ALICE, BOB)], current)
    added, deleted = members(result, f"cn=order-7,ou=orders,ou=groups,{BASE}")
    assert added == {BOB} and deleted == set()
    assert not [c for c in result.changes if c.key == A.key]
    assert "cannot tell" in result.errors[0].problem


def test_a_login_held_by_a_foreign_entry_is_not_given():
    foreign = {"bob": [f"uid=bob,ou=internal,{BASE}"]}
    result = plan(
        [A, B, group("order:7", "order-7", ALICE, BOB)],
        [A, group("order:7", "order-7", ALICE)],
        foreign=foreign,
    )
    assert not [c for c in result.changes if c.op is Op.ADD]
    assert members(result, f"cn=order-7,ou=orders,ou=groups,{BASE}") == (set(), set())
    [error] = result.errors
    assert "uid=bob,ou=internal" in error.problem and "no entry is added" in error.problem


def test_a_user_already_holding_its_login_keeps_it_and_is_reported():
    foreign = {"alice": [f"uid=alice,ou=internal,{BASE}"]}
    result = plan(
        [A, group("order:7", "order-7", ALICE)],
        [A, group("order:7", "order-7", ALICE)],
        foreign=foreign,
    )
    assert result.changes == ()
    assert "keeps its DN and its access" in result.errors[0].problem
    assert A.key in result.unsettled


def test_a_full_run_records_only_what_it_read_or_added():
    previous = {"a": "1", "b": "2", "gone": "3"}
    full = owners_after(previous, {"a": "1", "b": "9"}, {"c": "4"}, ["b"], full=True)
    assert full == {"a": "1", "c": "4"}
    assert owners_after(previous, {}, {"c": "4"}, [], full=False) == {**previous, "c": "4"}
