"""Pytest fixtures for the real servers: each started once per session, fresh state per test.

Load with `pytest_plugins = ["servers.fixtures"]` in a test module (or in
tests/conftest.py). A server that cannot start makes its tests fail with the
command and the server's own last log lines: they never skip. A per-test
fixture starts its server again if an earlier test stopped it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, TypeVar

import pytest
from selenium.webdriver import Chrome

from .browser import Browser
from .dirsrv import DirectoryServer389
from .httpserver import SourceServer
from .postgres import PostgresCluster, PostgresDatabase
from .replication import ReplicatedPair
from .samba import SambaDC, SambaTemplate
from .subtree import add_ou, delete_subtree


@pytest.fixture(scope="session")
def samba_template() -> Iterator[SambaTemplate]:
    """Provision the test domain once; every Samba DC of the session starts from a copy."""
    template = SambaTemplate()
    try:
        template.create()
        yield template
    finally:
        template.remove()


@pytest.fixture(scope="session")
def samba_dc(samba_template: SambaTemplate) -> Iterator[SambaDC]:
    """Start the session's Samba AD domain controller."""
    dc = SambaDC(samba_template)
    try:
        dc.start()
        yield dc
    finally:
        dc.stop()


@pytest.fixture
def samba_ou(samba_dc: SambaDC) -> Iterator[str]:
    """Return the DN of a fresh OU in the domain, removed with its subtree after the test."""
    samba_dc.start()
    with samba_dc.connection() as conn:
        ou = add_ou(conn, samba_dc.base_dn, rdn="OU")
    yield ou
    samba_dc.start()
    with samba_dc.connection() as conn:
        delete_subtree(conn, ou, tree_delete=True)


@pytest.fixture(scope="session")
def dirsrv() -> Iterator[DirectoryServer389]:
    """Create and start the session's 389 Directory Server."""
    server = DirectoryServer389()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def dirsrv_ou(dirsrv: DirectoryServer389) -> Iterator[str]:
    """Return the DN of a fresh OU under the 389-DS suffix, removed after the test."""
    dirsrv.start()
    with dirsrv.connection() as conn:
        ou = add_ou(conn, dirsrv.suffix)
    yield ou
    dirsrv.start()
    with dirsrv.connection() as conn:
        delete_subtree(conn, ou)


@pytest.fixture(scope="session")
def slapd_pair() -> Iterator[ReplicatedPair]:
    """Start the session's two replicating OpenLDAP providers."""
    pair = ReplicatedPair()
    try:
        pair.start()
        yield pair
    finally:
        pair.stop()


@pytest.fixture
def slapd_pair_ou(slapd_pair: ReplicatedPair) -> Iterator[str]:
    """Return the DN of a fresh OU made on provider 1 and replicated to provider 2.

    After the test both providers run again, replication has caught up (both
    hold the same contextCSNs) and the OU is gone from both: a provider that
    was down still receives the other's writes while the teardown deletes.
    """
    slapd_pair.resume()
    slapd_pair.wait_replicating()
    slapd_pair.wait_caught_up()
    with slapd_pair.first.connection() as conn:
        ou = add_ou(conn, slapd_pair.suffix)
    slapd_pair.wait_for(slapd_pair.second, ou)
    yield ou
    slapd_pair.resume()
    slapd_pair.remove(ou)


class _Server(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


S = TypeVar("S", bound=_Server)


def _running(server: S) -> Iterator[S]:
    """Start `server`, yield it, and stop it however the session ends."""
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """Create and start the session's PostgreSQL 15 cluster."""
    yield from _running(PostgresCluster())


@pytest.fixture
def postgres_db(postgres: PostgresCluster) -> Iterator[PostgresDatabase]:
    """Return a fresh, empty database, dropped (with the roles made for it) after the test."""
    postgres.start()
    database = PostgresDatabase(postgres, postgres.create_database())
    yield database
    postgres.start()
    database.drop()


@pytest.fixture(scope="session")
def http_server() -> Iterator[SourceServer]:
    """Start the session's plain HTTP server on 127.0.0.1."""
    yield from _running(SourceServer())


@pytest.fixture(scope="session")
def https_server() -> Iterator[SourceServer]:
    """Start the session's HTTPS server (certificate for localhost from a trustme CA)."""
    yield from _running(SourceServer(tls=True))


@pytest.fixture
def http_source(http_server: SourceServer) -> Iterator[SourceServer]:
    """Return the HTTP server with no documents, auth, fault or logged request."""
    http_server.reset()
    yield http_server
    http_server.reset()


@pytest.fixture
def https_source(https_server: SourceServer) -> Iterator[SourceServer]:
    """Return the HTTPS server with no documents, auth, fault or logged request."""
    https_server.reset()
    yield https_server
    https_server.reset()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """Start the session's headless Chromium and its chromedriver."""
    yield from _running(Browser())


@pytest.fixture
def browser(chromium: Browser) -> Chrome:
    """Return the session's browser with one blank window and an empty cookie jar."""
    return chromium.fresh()
