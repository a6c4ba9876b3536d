"""Which entries holding a login are drift for `access user LOGIN --compare` (pure)."""

from __future__ import annotations

from sync.portal.access import Drift, login_collisions
from sync.portal.login import EntryState, Holder

BASE = "dc=example,dc=org"
OWN = Holder(f"uid=anna.schmidt,ou=internal,{BASE}", "internal:U-1", EntryState.ACTIVE)


def test_only_the_records_own_entry_holds_its_login():
    assert login_collisions(["internal:U-1"], [OWN]) == ()


def test_an_entry_made_by_hand_is_drift():
    foreign = Holder(f"uid=anna.schmidt,ou=external,{BASE}", None, EntryState.ACTIVE)
    [line] = login_collisions(["internal:U-1"], [OWN, foreign])
    assert foreign.dn in line and "does not own" in line
    assert not Drift((), (), (line,)).none


def test_a_copy_with_the_records_identity_is_drift_and_a_disabled_entry_is_not():
    copy = Holder(f"uid=anna.schmidt,ou=people,{BASE}", "internal:U-1", EntryState.ACTIVE)
    other = Holder(f"uid=anna.schmidt,ou=disabled,{BASE}", "external:P-9", EntryState.DISABLED)
    found = login_collisions(["internal:U-1"], [OWN, copy, other])
    assert len(found) == 2 and all("2 entries carrying the identity" in line for line in found)
