"""Shared fixtures: the seed scenario, and a real slapd started by the suite itself.

slapd runs once per test session on a free loopback port in a temporary
directory; each test that uses it gets an emptied tree. When slapd cannot
start the tests that need it fail with slapd's error: they never skip.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from sync.ldap.localserver import LocalServer
from sync.settings import Settings, load_settings

from directory_view import ldapi_search

hypothesis_settings.register_profile("default", max_examples=40)
hypothesis_settings.register_profile("thorough", max_examples=500)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

SEED = json.loads(
    resources.files("sync.examples").joinpath("seed-scenario.json").read_text(encoding="utf-8")
)


@pytest.fixture
def seed() -> dict[str, Any]:
    """Return a fresh copy of the seed scenario document."""
    return copy.deepcopy(SEED)


def running(server: LocalServer) -> Iterator[LocalServer]:
    """Start a slapd, hand it out, and stop it (by its PID) when the fixture ends."""
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def slapd_server() -> Iterator[LocalServer]:
    """Start one slapd for the whole session."""
    server = LocalServer()
    yield from running(server)


def empty_tree(server: LocalServer) -> None:
    """Delete everything under the base DN but the base entry and the admin entry."""
    found = ldapi_search(server, "(objectClass=*)", "1.1", scope="one")
    children = [line[4:] for line in found.splitlines() if line.startswith("dn: ")]
    children = [dn for dn in children if dn != server.root_dn]
    if children:
        subprocess.run(
            ["ldapdelete", "-H", server.ldapi_uri, "-Y", "EXTERNAL", "-Q", "-r", *children],
            capture_output=True,
            check=True,
        )


@pytest.fixture
def slapd(slapd_server: LocalServer) -> LocalServer:
    """Return the session's slapd with an empty tree."""
    empty_tree(slapd_server)
    return slapd_server


def settings_factory(
    server: LocalServer, bind_dn: str, password: str, folder: Path, **defaults: Any
) -> Callable[..., Settings]:
    """Return a factory: settings that sync a given document into `server` as `bind_dn`."""

    def make(document: dict[str, Any], **overrides: Any) -> Settings:
        path = folder / "source.json"
        path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
        ldap = {
            "url": server.url,
            "bind_dn": bind_dn,
            "bind_password": password,
            "base_dn": server.suffix,
            **overrides.pop("ldap", {}),
        }
        overrides.setdefault("state_dir", folder / "state")
        for name, value in defaults.items():
            overrides.setdefault(name, value)
        return load_settings(ldap=ldap, source={"path": path}, **overrides)

    return make


@pytest.fixture
def settings_for(slapd: LocalServer, tmp_path: Path) -> Callable[..., Settings]:
    """Return a factory: settings that sync a given document into the test slapd as rootdn."""
    return settings_factory(slapd, slapd.root_dn, slapd.root_pw, tmp_path)


ACL_LDIF = Path(__file__).parent.parent / "config" / "slapd" / "acl.ldif"
SYNC_DN = "cn=portal-sync,ou=services,dc=example,dc=org"
SYNC_PASSWORD = "sync-secret"
PORTAL_DN = "cn=portal,ou=services,dc=example,dc=org"
PORTAL_PASSWORD = "portal-secret"
SERVICES = f"""dn: ou=services,dc=example,dc=org
objectClass: organizationalUnit
ou: services

dn: {SYNC_DN}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: portal-sync
userPassword: {SYNC_PASSWORD}

dn: {PORTAL_DN}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: portal
userPassword: {PORTAL_PASSWORD}
"""


def shipped_acl(suffix: str = "dc=example,dc=org") -> str:
    """Return the shipped cn=config ACL LDIF for a server with this suffix."""
    return ACL_LDIF.read_text(encoding="utf-8").replace("dc=example,dc=org", suffix)


@pytest.fixture(scope="session")
def acl_server() -> Iterator[LocalServer]:
    """Start one slapd with exactly the shipped ACLs and limits loaded."""
    server = LocalServer(config_changes=(shipped_acl(),))
    yield from running(server)


@pytest.fixture
def acl_slapd(acl_server: LocalServer) -> LocalServer:
    """Return the ACL server with an empty tree and the two service accounts."""
    empty_tree(acl_server)
    acl_server.ldapadd(SERVICES)
    return acl_server


@pytest.fixture
def sync_settings_for(acl_slapd: LocalServer, tmp_path: Path) -> Callable[..., Settings]:
    """Return a factory: settings that sync a document as the sync account, not as rootdn."""
    portal = {"bind_dn": PORTAL_DN, "bind_password": PORTAL_PASSWORD}
    return settings_factory(acl_slapd, SYNC_DN, SYNC_PASSWORD, tmp_path, portal=portal)


OVERLAYS = """dn: olcOverlay=memberof,olcDatabase={1}mdb,cn=config
changetype: add
objectClass: olcOverlayConfig
objectClass: olcMemberOf
olcOverlay: memberof
olcMemberOfRefInt: TRUE

dn: olcOverlay=refint,olcDatabase={1}mdb,cn=config
changetype: add
objectClass: olcOverlayConfig
objectClass: olcRefintConfig
olcOverlay: refint
olcRefintAttribute: member memberOf
"""


@pytest.fixture(scope="session")
def overlay_server() -> Iterator[LocalServer]:
    """Start one slapd with the memberof and refint overlays, as production directories run."""
    server = LocalServer(
        modules_extra="olcModuleLoad: memberof\nolcModuleLoad: refint\n",
        config_changes=(OVERLAYS,),
    )
    yield from running(server)


@pytest.fixture(params=["plain", "refint+memberof"])
def any_slapd(request: pytest.FixtureRequest) -> LocalServer:
    """Return, in turn, the plain slapd and the one with overlays, each with an empty tree."""
    server: LocalServer = request.getfixturevalue(
        "slapd_server" if request.param == "plain" else "overlay_server"
    )
    empty_tree(server)
    return server


@pytest.fixture
def any_settings_for(any_slapd: LocalServer, tmp_path: Path) -> Callable[..., Settings]:
    """Return a settings factory for `any_slapd`, as its rootdn."""
    return settings_factory(any_slapd, any_slapd.root_dn, any_slapd.root_pw, tmp_path)
