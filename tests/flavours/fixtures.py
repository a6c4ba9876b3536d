"""The flavour fixture: each behaviour test runs on slapd (refint + memberof), 389-DS and Samba AD."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from flavours.targets import (
    MAPPINGS,
    Target,
    ad_writes,
    dirsrv_writes,
    slapd_writes,
)
from ldap3 import NONE, Connection, Server

from conftest import empty_tree

FLAVOURS = ["openldap", "389ds", "samba-ad"]


def _slapd(request: pytest.FixtureRequest, folder: Path) -> Target:
    server = request.getfixturevalue("overlay_server")
    empty_tree(server)

    def connect(user: str | None = None, password: str | None = None) -> Connection:
        return Connection(
            Server(server.url, get_info=NONE),
            user or server.root_dn,
            password if user else server.root_pw,
            auto_bind=True,
            raise_exceptions=True,
        )

    def crash() -> None:
        server._proc.send_signal(signal.SIGKILL)
        server._proc.wait()

    return Target(
        "openldap",
        server.suffix,
        server.url,
        server.root_dn,
        server.root_pw,
        str(MAPPINGS / "openldap.toml"),
        connect,
        "uid",
        slapd_writes,
        crash=crash,
        revive=server._start_slapd,
    )


def _dirsrv(request: pytest.FixtureRequest, folder: Path) -> Target:
    server = request.getfixturevalue("dirsrv")
    ou = request.getfixturevalue("dirsrv_ou")
    return Target(
        "389ds",
        ou,
        server.url,
        server.root_dn,
        server.root_password,
        str(MAPPINGS / "389ds.toml"),
        server.connection,
        "uid",
        dirsrv_writes,
        crash=lambda: server.halt(signal.SIGKILL),
        revive=server.start,
    )


def samba_target(request: pytest.FixtureRequest, folder: Path) -> Target:
    dc = request.getfixturevalue("samba_dc")
    ou = request.getfixturevalue("samba_ou")
    return Target(
        "samba-ad",
        ou,
        dc.ldaps_url,
        dc.admin_dn,
        dc.admin_password,
        str(MAPPINGS / "active-directory.toml"),
        dc.connection,
        "samaccountname",
        ad_writes,
        {"ca_file": dc.ca_file, "tls_name": dc.tls_name},
        plain_url=dc.ldap_url,
        upn_suffix=dc.domain.dns_domain,
        crash=lambda: dc.halt(signal.SIGKILL),
        revive=dc.start,
    )


@pytest.fixture(params=FLAVOURS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    """Return a directory of each flavour in turn, with a fresh subtree as the sync's base."""
    make = {"openldap": _slapd, "389ds": _dirsrv, "samba-ad": samba_target}[request.param]
    return make(request, tmp_path)


@pytest.fixture
def ad(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    """Return the Samba AD target alone."""
    return samba_target(request, tmp_path)
