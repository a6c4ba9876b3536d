"""A copy of a user's entry gets none of its access, on every flavour (unique IDs differ).

slapd and 389-DS give each entry a textual unique ID (entryUUID,
nsUniqueId), Active Directory a binary objectGUID: each run records them
(`owners.json`) and tells the user's entry from a hand-made copy by them.
"""

from __future__ import annotations

import json

from sync.ldap.flavour import load_mapping
from sync.run.sync import run_sync

pytest_plugins = ["servers.fixtures", "flavours.fixtures"]

LUMIERE_GROUPS = {"X10001-Éditions Lumière", "order-_20261120_001", "order-RA_4726"}


def groups_of(target, login):
    found = set()
    for ou in ("ou=customers,ou=groups", "ou=orders,ou=groups"):
        found |= {name for name, members in target.groups(ou).items() if login in members}
    return found


def test_a_copy_carrying_a_users_identity_gets_no_membership(target, seed, tmp_path):
    settings = target.settings(seed, tmp_path)
    assert run_sync(settings).errors == []
    recorded = json.loads((settings.state_dir / "owners.json").read_text())["owners"]
    assert {"external:P-2", "internal:U-1", "customer:10001", "order:RA_4726"} <= set(recorded)
    assert len(set(recorded.values())) == len(recorded)
    identity = load_mapping(settings.mapping.path, settings.mapping.values).identity_attribute
    copy = target.dn("ou=external", "zzcopy")
    with target.connect() as conn:
        if target.name == "samba-ad":
            classes, attributes = ["user"], {"sAMAccountName": "zzcopy"}
        else:
            classes, attributes = ["inetOrgPerson"], {"sn": "Copy", "cn": "Zz Copy"}
        attributes[identity] = "portal-sync:external:P-2"
        assert conn.add(copy, classes, attributes), conn.result
    report = run_sync(settings, full=True)
    assert report.failure is None, report.failure
    [error] = report.errors
    assert copy.lower() in error.problem.lower() and "is not portal-sync's" in error.problem
    assert "unique ID" in error.problem
    assert groups_of(target, "mlefevre") == LUMIERE_GROUPS
    assert groups_of(target, "zzcopy") == set()
