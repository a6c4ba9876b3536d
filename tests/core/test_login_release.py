"""Logins handed on in one run: AD's unique login attributes, and the groups to recheck (pure)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sync.core.change import Op, Reason
from sync.core.desired import Desired
from sync.core.entry import Entry
from sync.core.mapping import MappingError, parked, parse_mapping
from sync.core.plan import make_plan
from sync.core.problems import Quarantine
from sync.ldap.flavour import load_mapping

BASE = "dc=test,dc=example,dc=com"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
EXTERNAL = f"ou=external,{BASE}"
DISABLED = f"ou=disabled,{BASE}"
CONTAINERS = (EXTERNAL, DISABLED, f"ou=customers,{BASE}")
AD = load_mapping("active-directory", {"upn_suffix": "example.com"})
OPENLDAP = load_mapping("openldap")


def ad_user(key, login, ou=EXTERNAL, *marks, **more):
    identity = (f"portal-sync:{key}", *(f"portal-sync:disabled-since:{m}" for m in marks))
    attributes = {
        "cn": (login,),
        "samaccountname": (login,),
        "userprincipalname": (f"{login}@example.com",),
        "extensionname": identity,
        **more,
    }
    return Entry(key, f"cn={login},{ou}", attributes)


def group(key, name, *members):
    return Entry(
        key,
        f"cn={name},ou=customers,{BASE}",
        {"cn": (name,), "member": members, "extensionname": (f"portal-sync:{key}",)},
    )


def plan(desired, current, mapping=AD):
    wanted = Desired({e.key: e for e in desired}, CONTAINERS, disabled_base=DISABLED)
    return make_plan(wanted, current, CONTAINERS, mapping, Quarantine(), now=NOW)


def held_logins_never_clash(current, changes):
    """Replay the changes' sAMAccountName values: no value is ever held by two entries."""
    held = {e.key: e.attributes["samaccountname"][0] for e in current if e.kind.is_user}
    for change in changes:
        for value in change.replace.get("samaccountname", ()):
            others = {k for k, v in held.items() if v.lower() == value.lower() and k != change.key}
            assert not others, f"{change} needs {value!r}, held by {others}"
            held[change.key] = value
    return held


def test_a_swap_on_ad_parks_both_logins_before_any_rename_and_never_needs_a_held_value():
    alice, bob = ad_user("external:1", "alice"), ad_user("external:2", "bob")
    changes = plan([ad_user("external:1", "bob"), ad_user("external:2", "alice")], [alice, bob])
    changes = changes.changes
    releases = [c for c in changes if c.reason is Reason.RELEASE]
    first_rename = min(i for i, c in enumerate(changes) if c.op is Op.RENAME)
    assert len(releases) == 2 and all(changes.index(c) < first_rename for c in releases)
    assert {c.replace["samaccountname"] for c in releases} == {
        (parked("external:1"),),
        (parked("external:2"),),
    }
    held = held_logins_never_clash([alice, bob], changes)
    assert held == {"external:1": "bob", "external:2": "alice"}


def test_a_chain_of_logins_never_needs_a_held_value():
    current = [ad_user("external:1", "a"), ad_user("external:2", "b"), ad_user("external:3", "c")]
    wanted = [ad_user("external:1", "b"), ad_user("external:2", "c"), ad_user("external:3", "d")]
    held = held_logins_never_clash(current, plan(wanted, current).changes)
    assert held == {"external:1": "b", "external:2": "c", "external:3": "d"}


def test_a_rename_no_one_follows_sets_the_new_login_in_one_step():
    """Nothing parks the login: a refused rename leaves the user the login it has."""
    changes = plan([ad_user("external:1", "alicia")], [ad_user("external:1", "alice")]).changes
    assert not [c for c in changes if c.reason is Reason.RELEASE]
    [modify] = [c for c in changes if c.op is Op.MODIFY]
    assert modify.replace["samaccountname"] == ("alicia",)


def test_disabling_on_ad_gives_the_login_up_and_keeps_it_for_the_record():
    alice, bob = ad_user("external:1", "alice"), ad_user("external:2", "bob")
    mark, move = plan([alice], [alice, bob]).changes
    assert mark.reason is Reason.DISABLE and move.op is Op.RENAME
    assert mark.replace["samaccountname"] == (parked("external:2"),)
    assert mark.replace["userprincipalname"] == (f"{parked('external:2')}@portal-sync.invalid",)
    assert mark.replace["msds-cloudextensionattribute1"] == ("bob",)
    assert mark.replace["useraccountcontrol"] == ("514",)


def test_a_login_freed_by_a_disable_is_taken_in_the_same_run_without_a_clash():
    alice, bob = ad_user("external:1", "alice"), ad_user("external:2", "bob")
    newcomer = ad_user("external:3", "bob")
    changes = plan([alice, newcomer], [alice, bob]).changes
    park = next(c for c in changes if c.reason is Reason.DISABLE and c.op is Op.MODIFY)
    add = next(c for c in changes if c.op is Op.ADD)
    assert changes.index(park) < changes.index(add)


def test_an_entry_disabled_before_logins_were_released_gives_its_login_up_on_the_next_run():
    alice = ad_user("external:1", "alice")
    old = ad_user("external:2", "bob", DISABLED, "2026-11-20T12:00:00+00:00")
    [park] = plan([alice], [alice, old]).changes
    assert park.replace["samaccountname"] == (parked("external:2"),)
    assert park.replace["msds-cloudextensionattribute1"] == ("bob",)


def test_a_restore_takes_the_login_back_and_clears_the_kept_one():
    disabled = ad_user(
        "external:2",
        "bob",
        DISABLED,
        "2026-11-20T12:00:00+00:00",
        samaccountname=(parked("external:2"),),
        userprincipalname=(f"{parked('external:2')}@portal-sync.invalid",),
        **{"msds-cloudextensionattribute1": ("bob",)},
    )
    wanted = Entry(
        "external:2",
        f"cn=bob,{EXTERNAL}",
        {**AD.kinds[disabled.kind].render(defaultdict(str, login="bob")), "cn": ("bob",)},
    )
    changes = plan([wanted], [disabled]).changes
    [restore] = [c for c in changes if c.op is Op.MODIFY]
    assert restore.reason is Reason.RESTORE
    assert restore.replace["samaccountname"] == ("bob",)
    assert restore.replace["msds-cloudextensionattribute1"] == ()


def test_a_flavour_without_unique_logins_releases_nothing():
    def user(key, login):
        return Entry(
            key,
            f"uid={login},{EXTERNAL}",
            {"uid": (login,), "sn": ("S",), "businesscategory": (f"portal-sync:{key}",)},
        )

    changes = plan(
        [user("external:1", "bob"), user("external:2", "alice")],
        [user("external:1", "alice"), user("external:2", "bob")],
        OPENLDAP,
    ).changes
    assert [c.op for c in changes] == [Op.RENAME] * 3


def test_groups_naming_a_dn_handed_on_are_read_again_after_the_run():
    alice, bob, carol = (
        ad_user("external:1", "alice"),
        ad_user("external:2", "bob"),
        ad_user("external:3", "carol"),
    )
    alpha = group("customer:A", "Alpha", alice.dn)
    beta = group("customer:B", "Beta", bob.dn)
    gamma = group("customer:C", "Gamma", carol.dn)
    swapped = [ad_user("external:1", "bob"), ad_user("external:2", "alice")]
    renamed = ad_user("external:3", "carole")
    wanted = [
        *swapped,
        renamed,
        group("customer:A", "Alpha", swapped[0].dn),
        group("customer:B", "Beta", swapped[1].dn),
        group("customer:C", "Gamma", renamed.dn),
    ]
    result = plan(wanted, [alice, bob, carol, alpha, beta, gamma])
    assert {(key, tuple(final)) for key, _, final in result.recheck} == {
        ("customer:A", (swapped[0].dn,)),
        ("customer:B", (swapped[1].dn,)),
    }


def test_a_plain_rename_needs_no_recheck():
    alice = ad_user("external:1", "alice")
    alpha = group("customer:A", "Alpha", alice.dn)
    renamed = ad_user("external:1", "alicia")
    result = plan([renamed, group("customer:A", "Alpha", renamed.dn)], [alice, alpha])
    assert result.recheck == ()


def test_a_mapping_that_releases_logins_names_where_they_are_kept():
    text = load_mapping_text().replace('kept_in = "msDS-cloudExtensionAttribute1"\n', "")
    with pytest.raises(MappingError, match="kept_in"):
        parse_mapping(text, "ad.toml", {"upn_suffix": "example.com"})


def load_mapping_text():
    path = Path(__file__).parent.parent.parent / "mappings" / "active-directory.toml"
    return path.read_text(encoding="utf-8")
