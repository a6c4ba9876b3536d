"""The shipped ACLs and limits, loaded into a real slapd, checked by binding as each account."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from ldap3 import BASE, MODIFY_REPLACE, SUBTREE, Connection, Server
from portal_helpers import password_of, person_with_login, with_hashes

from sync.ldap.localserver import LocalServer
from sync.portal.login import LoginRefused, Portal, can_open
from sync.run.sync import run_sync

from conftest import PORTAL_DN, PORTAL_PASSWORD, SYNC_DN, SYNC_PASSWORD, shipped_acl
from seed_table import EXTERNAL_USERS, INTERNAL_USERS, ORDER_GROUPS

pytestmark = pytest.mark.slapd

BASE_DN = "dc=example,dc=org"
ORDERS = (
    "_20261120_001",
    "_20261120_002",
    "_20261121_003",
    "_20261121_004",
    "RA_4726",
    "_20261122_005",
)
# The (user, order) pairs of ../shared/examples/README.md: nobody else opens anything.
ALLOWED = {name.removeprefix("order-"): logins for name, logins in ORDER_GROUPS.items()}
USERS = sorted(INTERNAL_USERS | EXTERNAL_USERS | {"lbernard"})


def external(login: str) -> str:
    return f"uid={login},ou=external,{BASE_DN}"


def bind(server: LocalServer, dn: str, password: str) -> Connection:
    connection = Connection(Server(server.url), dn, password, raise_exceptions=False)
    assert connection.bind(), f"bind as {dn} refused: {connection.result}"
    return connection


def binds(server: LocalServer, dn: str, password: str) -> bool:
    return bool(Connection(Server(server.url), dn, password, raise_exceptions=False).bind())


def visible(
    connection: Connection, base: str = BASE_DN, query: str = "(objectClass=*)"
) -> set[str]:
    connection.search(base, query, SUBTREE, attributes=["*"])
    return {entry.entry_dn.lower() for entry in connection.entries}


MODES = {"internal": "source-hash", "external": "source-hash"}


@pytest.fixture
def seeded(sync_settings_for, seed):
    settings = sync_settings_for(with_hashes(seed), passwords=MODES)
    report = run_sync(settings)
    assert report.ok and not report.errors, report.to_text()
    return settings


def test_every_user_order_pair_is_granted_exactly_as_the_rules_say(seeded, acl_slapd):
    granted = set()
    with Portal.open(seeded) as portal:
        for login in USERS:
            try:
                user = portal.authenticate(login, password_of(login))
            except LoginRefused:
                assert login == "lbernard", f"{login} could not log in"
                continue
            granted |= {(login, order) for order in ORDERS if can_open(user, order)}
    expected = {(login, order) for order, logins in ALLOWED.items() for login in logins}
    assert granted == expected


def test_agency_users_open_their_clients_orders_and_their_own_only(seeded):
    with Portal.open(seeded) as portal:
        for login in ("jsilva", "acosta"):
            user = portal.authenticate(login, password_of(login))
            assert user.orders == {"_20261120_001", "_20261120_002", "_20261121_003"}
            reasons = {grant.order_id: grant.reason for grant in user.grants}
            assert reasons == {
                "_20261120_001": "agency 10002 for customer 10001",
                "_20261120_002": "own customer 10002",
                "_20261121_003": "agency 10002 for customer 10003",
            }
            assert not can_open(user, "RA_4726")
            assert not can_open(user, "_20261121_004")


@pytest.mark.parametrize("password", ["not-the-password", ""])
def test_a_wrong_or_empty_password_is_refused(seeded, password):
    with Portal.open(seeded) as portal, pytest.raises(LoginRefused):
        portal.authenticate("cdubois", password)


def test_a_disabled_account_cannot_bind_and_binds_again_once_restored(
    sync_settings_for, seed, acl_slapd
):
    document = with_hashes(seed)
    settings = sync_settings_for(document, passwords=MODES)
    assert run_sync(settings).ok
    assert binds(acl_slapd, external("pbraun"), password_of("pbraun"))

    person_with_login(document, "pbraun")["account"]["enabled"] = False
    disabled = run_sync(sync_settings_for(document, passwords=MODES))
    assert disabled.ok, disabled.to_text()
    moved = f"uid=pbraun,ou=disabled,{BASE_DN}"
    admin = Connection(Server(acl_slapd.url), acl_slapd.root_dn, acl_slapd.root_pw, auto_bind=True)
    assert admin.search(moved, "(objectClass=*)", BASE, attributes=["userPassword"])
    assert admin.entries[0]["userPassword"].value, "the password is kept while disabled"
    assert not binds(acl_slapd, moved, password_of("pbraun"))
    with Portal.open(settings) as portal, pytest.raises(LoginRefused):
        portal.authenticate("pbraun", password_of("pbraun"))

    person_with_login(document, "pbraun")["account"]["enabled"] = True
    assert run_sync(sync_settings_for(document, passwords=MODES)).ok
    assert binds(acl_slapd, external("pbraun"), password_of("pbraun"))


@pytest.mark.parametrize("login", ["cdubois", "mlefevre", "smartin", "jsilva", "acosta", "pbraun"])
def test_an_external_user_sees_nothing_of_other_customers(seeded, acl_slapd, login):
    user = bind(acl_slapd, external(login), password_of(login))
    assert visible(user) == {external(login)}
    assert visible(user, query="(|(uid=*)(cn=*)(o=*)(businessCategory=*))") == {external(login)}
    assert visible(user, query="(member=*)") == set()
    assert not user.search(f"ou=orders,ou=groups,{BASE_DN}", "(objectClass=*)", SUBTREE)
    assert not user.search(f"ou=customers,ou=groups,{BASE_DN}", "(objectClass=*)", SUBTREE)
    assert not user.compare(external("pbraun" if login != "pbraun" else "jsilva"), "uid", "x")


def test_anonymous_reads_nothing(seeded, acl_slapd):
    anonymous = Connection(Server(acl_slapd.url), auto_bind=True)
    assert visible(anonymous) == set()


def test_the_portal_account_searches_users_and_groups_but_reads_no_password(seeded, acl_slapd):
    portal = bind(acl_slapd, PORTAL_DN, PORTAL_PASSWORD)
    seen = visible(portal)
    assert external("cdubois") in seen
    assert f"cn=order-_20261120_001,ou=orders,ou=groups,{BASE_DN}" in seen
    portal.search(BASE_DN, "(objectClass=*)", SUBTREE, attributes=["userPassword"])
    assert all(not entry["raw_attributes"].get("userPassword") for entry in portal.response)
    assert visible(portal, query="(userPassword=*)") == set()
    assert not portal.modify(external("cdubois"), {"mail": [(MODIFY_REPLACE, ["x@y.example"])]})


def test_the_sync_account_cannot_read_passwords_or_write_outside_its_subtrees(seeded, acl_slapd):
    sync = bind(acl_slapd, SYNC_DN, SYNC_PASSWORD)
    sync.search(external("cdubois"), "(objectClass=*)", BASE, attributes=["userPassword"])
    assert not sync.response[0]["raw_attributes"].get("userPassword")
    assert not sync.modify(PORTAL_DN, {"userPassword": [(MODIFY_REPLACE, ["{SSHA}x"])]})
    assert not sync.add(f"ou=elsewhere,{BASE_DN}", ["organizationalUnit"], {"ou": "elsewhere"})
    assert not sync.modify(BASE_DN, {"description": [(MODIFY_REPLACE, ["taken"])]})
    assert not sync.delete(f"ou=services,{BASE_DN}")


def test_a_user_changes_their_own_password_but_nobody_elses(seeded, acl_slapd):
    cdubois = bind(acl_slapd, external("cdubois"), password_of("cdubois"))
    assert cdubois.extend.standard.modify_password(
        external("cdubois"), password_of("cdubois"), "a-new-one-1"
    )
    assert binds(acl_slapd, external("cdubois"), "a-new-one-1")
    assert not cdubois.modify(external("mlefevre"), {"userPassword": [(MODIFY_REPLACE, ["x"])]})
    assert binds(acl_slapd, external("mlefevre"), password_of("mlefevre"))


def big(seed, persons: int):
    seed["customers"].append(
        {
            "id": "20000",
            "name": "Big Customer",
            "remote_access": True,
            "persons": [
                {
                    "id": f"B-{n}",
                    "last_name": f"Person {n}",
                    "contact_types": ["customer"] if n == 0 else ["ct"],
                    "account": {"login": f"big{n}"},
                }
                for n in range(persons)
            ],
            "contact_types": [{"id": "ct", "name": "Staff"}],
        }
    )
    return seed


def test_the_sync_account_reads_past_500_entries_under_the_shipped_limits(sync_settings_for, seed):
    settings = sync_settings_for(big(seed, 600))
    first = run_sync(settings)
    assert first.ok and not first.errors, first.to_text(verbose=False)
    second = run_sync(settings)
    assert second.ok, second.failure
    assert second.changes == []


def test_without_the_shipped_limits_the_sync_account_stops_at_500_entries(seed, tmp_path):
    acl_only = re.sub(r"-\nreplace: olcLimits\n.*", "", shipped_acl(), flags=re.S)
    with LocalServer(config_changes=(acl_only,)) as server:
        from conftest import SERVICES

        server.ldapadd(SERVICES)
        path = tmp_path / "source.json"
        import json

        path.write_text(json.dumps(big(seed, 600)), encoding="utf-8")
        from sync.settings import load_settings

        settings = load_settings(
            ldap={
                "url": server.url,
                "bind_dn": SYNC_DN,
                "bind_password": SYNC_PASSWORD,
                "base_dn": server.suffix,
            },
            source={"path": path},
            state_dir=tmp_path / "state",
        )
        assert run_sync(settings).ok
        second = run_sync(settings, full=True)
        assert not second.ok and "size limit" in (second.failure or "")


def _unfolded(ldif: str) -> list[str]:
    return ldif.replace("\n ", "").splitlines()


def _normalized_by_slapd(server: LocalServer, rules: str, folder: Path) -> list[str]:
    """Return the olcAccess and olcLimits values slapd makes of slapd.conf-style rules."""
    folder.mkdir()
    (folder / "db").mkdir()
    (folder / "slapd.d").mkdir()
    schemas = Path(server.SCHEMADIR)
    includes = "".join(
        f"include {schemas / n}.schema\n" for n in ("core", "cosine", "inetorgperson")
    )
    conf = folder / "slapd.conf"
    conf.write_text(
        f'{includes}database ldif\nsuffix "{BASE_DN}"\ndirectory {folder / "db"}\n{rules}\n'
    )
    subprocess.run(
        [server.PATH_SLAPD, "-Ttest", "-f", str(conf), "-F", str(folder / "slapd.d")],
        check=True,
        capture_output=True,
    )
    converted = (folder / "slapd.d" / "cn=config" / "olcDatabase={1}ldif.ldif").read_text()
    return [line for line in _unfolded(converted) if line.startswith(("olcAccess:", "olcLimits:"))]


def test_the_slapd_conf_snippet_says_what_the_ldif_says(acl_server, tmp_path):
    folder = Path(__file__).parents[2] / "config" / "slapd"
    ldif = "\n".join(
        line for line in _unfolded(shipped_acl()) if line.startswith(("olcAccess:", "olcLimits:"))
    )
    as_conf = re.sub(r"^olcAccess: \{\d+\}to ", "access to ", ldif, flags=re.M)
    as_conf = re.sub(r"^olcLimits: \{\d+\}", "limits ", as_conf, flags=re.M)
    from_ldif = _normalized_by_slapd(acl_server, as_conf, tmp_path / "ldif")
    from_conf = _normalized_by_slapd(
        acl_server, (folder / "acl.conf").read_text(encoding="utf-8"), tmp_path / "conf"
    )
    assert len(from_conf) == 15
    assert from_conf == from_ldif


def test_the_sync_account_may_keep_its_run_lease_below_the_base(acl_slapd):
    lease = f"cn=portal-sync-lock,{BASE_DN}"
    sync = bind(acl_slapd, SYNC_DN, SYNC_PASSWORD)
    assert sync.add(lease, ["applicationProcess"], {"cn": "portal-sync-lock", "description": "a"})
    assert sync.modify(lease, {"description": [(MODIFY_REPLACE, ["b"])]})
    portal = bind(acl_slapd, PORTAL_DN, PORTAL_PASSWORD)
    assert not portal.modify(lease, {"description": [(MODIFY_REPLACE, ["c"])]})
    assert sync.delete(lease)
