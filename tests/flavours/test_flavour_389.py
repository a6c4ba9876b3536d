"""389-DS with the shipped ACIs (config/389ds/), checked by binding as each kind of account."""

from __future__ import annotations

import copy
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ldap3 import BASE, MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE, NONE, SUBTREE, Connection, Server
from ldap3.core.exceptions import LDAPException
from portal_helpers import password_of, person_with_login, with_hashes

from sync.portal.login import LoginRefused, Portal, can_open
from sync.run.sync import run_sync
from sync.settings import load_settings

from seed_table import EXTERNAL_USERS, INTERNAL_USERS, ORDER_GROUPS

pytest_plugins = ["servers.fixtures", "flavours.fixtures"]

CONFIG = Path(__file__).parent.parent.parent / "config" / "389ds"
ALLOWED = {name.removeprefix("order-"): logins for name, logins in ORDER_GROUPS.items()}
ORDERS = ("_20261120_001", "_20261120_002", "_20261121_003", "_20261121_004", "RA_4726")


def ldif_records(text: str) -> list[list[tuple[str, str]]]:
    """Return the records of a simple LDIF text (no folding, no base64) as (name, value) lists."""
    records = []
    for block in text.split("\n\n"):
        lines = [line for line in block.splitlines() if line and not line.startswith("#")]
        if lines:
            records.append([tuple(line.split(": ", 1)) for line in lines])
    return records


@pytest.fixture
def acis(dirsrv, dirsrv_ou):
    """Load the shipped ACIs and service accounts below a fresh OU; return its DN."""
    base = dirsrv_ou

    def shipped(name: str) -> str:
        return (CONFIG / name).read_text(encoding="utf-8").replace("dc=example,dc=org", base)

    with dirsrv.connection() as conn:
        for record in ldif_records(shipped("services.ldif")):
            dn = record[0][1]
            attributes: dict[str, list[str]] = {}
            for name, value in record[1:]:
                attributes.setdefault(name, []).append(value)
            classes = attributes.pop("objectClass")
            assert conn.add(dn, classes, attributes), conn.result
        [record] = ldif_records(shipped("aci.ldif"))
        values = [value for name, value in record if name == "aci"]
        assert conn.modify(base, {"aci": [(MODIFY_ADD, values)]}), conn.result
        [record] = ldif_records(shipped("password-admin.ldif"))
        admin = dict(record[3:])
        assert conn.modify(
            "cn=config", {"passwordAdminDN": [(MODIFY_REPLACE, [admin["passwordAdminDN"]])]}
        )
    yield base
    dirsrv.start()
    with dirsrv.connection() as conn:
        conn.modify("cn=config", {"passwordAdminDN": [(MODIFY_DELETE, [])]})


def service(base: str, name: str) -> str:
    return f"cn={name},ou=services,{base}"


@pytest.fixture
def settings_for(dirsrv, acis, tmp_path):
    """Settings that sync as the shipped sync account, the portal bound as the portal account."""

    def make(document, **overrides):
        path = tmp_path / "source.json"
        path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
        return load_settings(
            ldap={
                "url": dirsrv.url,
                "bind_dn": service(acis, "portal-sync"),
                "bind_password": "sync-secret",
                "base_dn": acis,
            },
            portal={"bind_dn": service(acis, "portal"), "bind_password": "portal-secret"},
            source={"path": path},
            mapping={"path": "389ds"},
            state_dir=tmp_path / "state",
            **overrides,
        )

    return make


MODES = {"internal": "source-hash", "external": "source-hash"}


def binds(dirsrv, dn, password):
    try:
        with dirsrv.connection(dn, password):
            return True
    except LDAPException:
        return False


def seen(conn, base, query="(objectClass=*)"):
    conn.search(base, query, SUBTREE, attributes=["*"])
    return {entry.entry_dn.lower() for entry in conn.entries}


@pytest.fixture
def seeded(settings_for, seed):
    settings = settings_for(with_hashes(seed), passwords=MODES)
    report = run_sync(settings)
    assert report.ok and not report.errors, report.to_text()
    return settings


def ext(base, login):
    return f"uid={login},ou=external,{base}".lower()


def test_the_sync_account_converges_disables_and_restores_under_the_acis(
    settings_for, seed, acis, dirsrv
):
    document = with_hashes(seed)
    assert run_sync(settings_for(document, passwords=MODES)).ok
    second = run_sync(settings_for(document, passwords=MODES))
    assert second.ok and second.changes == []
    person_with_login(document, "pbraun")["account"]["enabled"] = False
    disabled = run_sync(settings_for(document, passwords=MODES))
    assert disabled.ok and not disabled.errors, disabled.to_text()
    assert not binds(dirsrv, f"uid=pbraun,ou=disabled,{acis}", password_of("pbraun"))
    person_with_login(document, "pbraun")["account"]["enabled"] = True
    restored = run_sync(settings_for(document, passwords=MODES))
    assert restored.ok and not restored.errors, restored.to_text()
    assert binds(dirsrv, ext(acis, "pbraun"), password_of("pbraun"))


def test_every_user_order_pair_is_granted_exactly_as_the_rules_say(seeded):
    granted = set()
    with Portal.open(seeded) as portal:
        for login in sorted(INTERNAL_USERS | EXTERNAL_USERS):
            user = portal.authenticate(login, password_of(login))
            granted |= {(login, order) for order in ORDERS if can_open(user, order)}
        with pytest.raises(LoginRefused):
            portal.authenticate("cdubois", "not-the-password")
    assert granted == {(login, order) for order, logins in ALLOWED.items() for login in logins}


def test_a_user_sees_only_their_own_entry_and_changes_only_their_own_password(seeded, acis, dirsrv):
    with dirsrv.connection(ext(acis, "cdubois"), password_of("cdubois")) as user:
        assert seen(user, acis) == {ext(acis, "cdubois")}
        assert seen(user, acis, "(member=*)") == set()
        assert user.modify(ext(acis, "cdubois"), {"userPassword": [(MODIFY_REPLACE, ["New-1"])]})
        with pytest.raises(LDAPException):
            user.modify(ext(acis, "mlefevre"), {"userPassword": [(MODIFY_REPLACE, ["x"])]})
    assert binds(dirsrv, ext(acis, "cdubois"), "New-1")
    assert binds(dirsrv, ext(acis, "mlefevre"), password_of("mlefevre"))


def test_anonymous_reads_nothing(seeded, acis, dirsrv):
    with Connection(Server(dirsrv.url, get_info=NONE), auto_bind=True) as anonymous:
        assert seen(anonymous, acis) == set()


def test_the_portal_account_reads_users_and_groups_but_no_password_and_writes_nothing(
    seeded, acis, dirsrv
):
    with dirsrv.connection(service(acis, "portal"), "portal-secret") as portal:
        visible = seen(portal, acis)
        assert ext(acis, "cdubois") in visible
        assert f"cn=order-_20261120_001,ou=orders,ou=groups,{acis}".lower() in visible
        portal.search(acis, "(objectClass=*)", SUBTREE, attributes=["userPassword"])
        assert all(not e["raw_attributes"].get("userPassword") for e in portal.response)
        assert seen(portal, acis, "(userPassword=*)") == set()
        with pytest.raises(LDAPException):
            portal.modify(ext(acis, "cdubois"), {"mail": [(MODIFY_REPLACE, ["x@y.example"])]})


def test_the_sync_account_reads_no_password_and_writes_nothing_outside_its_ous(
    seeded, acis, dirsrv
):
    with dirsrv.connection(service(acis, "portal-sync"), "sync-secret") as sync:
        sync.search(ext(acis, "cdubois"), "(objectClass=*)", BASE, attributes=["userPassword"])
        assert not sync.response[0]["raw_attributes"].get("userPassword")
        for attempt in (
            lambda: sync.modify(
                service(acis, "portal"), {"userPassword": [(MODIFY_REPLACE, ["x"])]}
            ),
            lambda: sync.add(f"ou=elsewhere,{acis}", ["organizationalUnit"]),
            lambda: sync.modify(acis, {"description": [(MODIFY_REPLACE, ["taken"])]}),
            lambda: sync.delete(f"ou=services,{acis}"),
            lambda: sync.modify_dn(
                ext(acis, "cdubois"), "uid=cdubois", new_superior=f"ou=services,{acis}"
            ),
        ):
            with pytest.raises(LDAPException):
                attempt()


def test_the_command_line_checks_and_runs_as_the_sync_account_with_its_lease(
    settings_for, seed, acis, dirsrv, tmp_path
):
    settings = settings_for(seed)
    environment = {
        **os.environ,
        "PORTAL_SYNC_LDAP__URL": settings.ldap.url,
        "PORTAL_SYNC_LDAP__BIND_DN": settings.ldap.bind_dn,
        "PORTAL_SYNC_LDAP__BIND_PASSWORD": "sync-secret",
        "PORTAL_SYNC_LDAP__BASE_DN": acis,
        "PORTAL_SYNC_PORTAL__BIND_DN": service(acis, "portal"),
        "PORTAL_SYNC_PORTAL__BIND_PASSWORD": "portal-secret",
        "PORTAL_SYNC_MAPPING__PATH": "389ds",
        "PORTAL_SYNC_SOURCE__PATH": str(settings.source.path),
        "PORTAL_SYNC_STATE_DIR": str(tmp_path / "cli-state"),
    }
    for command in (["check"], ["run"], ["run", "--full"]):
        done = subprocess.run(
            [sys.executable, "-m", "sync", *command],
            env=environment,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    assert "no change" in done.stdout
    with dirsrv.connection() as conn:
        assert conn.search(f"cn=portal-sync-lock,{acis}", "(objectClass=applicationProcess)", BASE)


def test_the_sync_account_sees_a_login_held_outside_its_subtrees(seeded, acis, dirsrv):
    """Under the shipped ACIs a hand-made entry elsewhere holding a staff login is reported."""
    foreign = f"uid=anna.schmidt,ou=people,{acis}"
    with dirsrv.connection() as conn:
        assert conn.add(f"ou=people,{acis}", ["organizationalUnit"], {"ou": "people"})
        assert conn.add(
            foreign, ["inetOrgPerson"], {"uid": "anna.schmidt", "cn": "Anna", "sn": "Copy"}
        ), conn.result
    report = run_sync(seeded, full=True)
    assert report.exit_code == 1, report.to_text()
    assert [error.record for error in report.errors] == ["internal user U-1"]
    assert foreign.lower() in report.errors[0].problem.lower()


def test_the_sync_account_keeps_its_state_token_under_the_shipped_acis(
    settings_for, seed, acis, dirsrv, caplog
):
    assert run_sync(settings_for(seed)).ok
    changed = copy.deepcopy(seed)
    person_with_login(changed, "cdubois")["email"] = "c.dubois@changed.example"
    with caplog.at_level(logging.INFO, logger="portal_sync"):
        report = run_sync(settings_for(changed))
    assert report.ok and report.counts() == {"modify": 1}, report.to_text()
    assert not report.warnings
    assert "incremental run: " in caplog.text and "full reconciliation" not in caplog.text
    settings = settings_for(changed)
    state = json.loads((settings.state_dir / "incremental-state.json").read_text(encoding="utf-8"))
    with dirsrv.connection() as conn:
        assert conn.search(
            f"cn=portal-sync-state,{acis}", "(objectClass=*)", BASE, attributes=["description"]
        )
        assert [str(v) for v in conn.entries[0]["description"]] == [state["token"]]
