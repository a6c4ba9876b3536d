"""Many member DNs read in a few searches say what one search per DN says (real slapd)."""

from __future__ import annotations

import pytest

from sync.ldap.directory import Directory
from sync.ldap.flavour import load_mapping
from sync.portal.login import EntryState, Portal
from sync.run.sync import run_sync

pytestmark = pytest.mark.slapd

BASE = "dc=example,dc=org"


def test_holders_at_answers_as_holder_does_for_every_kind_of_member(sync_settings_for, seed):
    settings = sync_settings_for(seed)
    assert run_sync(settings).ok
    dns = [
        f"uid=acosta,ou=external,{BASE}",
        f"uid=anna.schmidt,ou=internal,{BASE}",
        f"uid=nobody,ou=external,{BASE}",
        f"uid=acosta,ou=disabled,{BASE}",
        f"cn=order-RA_4726,ou=orders,ou=groups,{BASE}",
        f"uid=jsilva,ou=elsewhere,{BASE}",
        f"UID=JSilva,OU=External,{BASE.upper()}",
    ]
    mapping = load_mapping(settings.mapping.path, settings.mapping.values)
    with Directory.open(settings.ldap) as directory:
        portal = Portal(settings, directory, mapping)
        one_by_one = [portal.holder(dn) for dn in dns]
        together = portal.holders_at(dns)
    assert together == one_by_one
    assert [h.state for h in together[:4]] == [
        EntryState.ACTIVE,
        EntryState.ACTIVE,
        EntryState.MISSING,
        EntryState.DISABLED,
    ]
    assert together[-1].key == "external:P-10" and together[-1].dn == dns[-1]
