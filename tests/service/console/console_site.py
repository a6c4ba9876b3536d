"""Fixtures of the console's tests: a real `portal-sync daemon` with the console on, over the shipped ACLs.

The daemon runs as a subprocess syncing the seed scenario (with hostile
names added) into the session's ACL slapd as the sync account; the console
reads the directory as the portal account. One daemon per test module:
tests that change something change what no other test of the module reads.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from console_values import SECRET, console_document
from daemons import Daemon, environment, free_port, wait_for, write_source

from sync.ldap.localserver import LocalServer

from conftest import (
    PORTAL_DN,
    PORTAL_PASSWORD,
    SERVICES,
    SYNC_DN,
    SYNC_PASSWORD,
    empty_tree,
)


@dataclass
class Site:
    """A running daemon with its console."""

    daemon: Daemon
    url: str
    port: int
    source: Path
    document: dict[str, Any]
    server: LocalServer

    def runs(self) -> int:
        """Return how many runs the daemon kept in its history."""
        folder = Path(self.daemon.env["PORTAL_SYNC_STATE_DIR"]) / "history"
        return len(list(folder.glob("*.json"))) if folder.is_dir() else 0

    def publish(self, document: dict[str, Any]) -> None:
        """Write a new source document (the daemon does not watch it: runs come on request)."""
        self.document = document
        write_source(self.source, document)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def site(acl_server: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Start a daemon with the console on, after its first run synced the scenario."""
    empty_tree(acl_server)
    acl_server.ldapadd(SERVICES)
    folder = tmp_path_factory.mktemp("console")
    source = folder / "source.json"
    document = console_document()
    write_source(source, document)
    port = free_port()
    env = environment(
        acl_server,
        source,
        folder / "state",
        ldap__bind_dn=SYNC_DN,
        ldap__bind_password=SYNC_PASSWORD,
        portal__bind_dn=PORTAL_DN,
        portal__bind_password=PORTAL_PASSWORD,
        passwords__internal="source-hash",
        passwords__external="source-hash",
        schedule__interval=3600,
        schedule__watch_interval=0,
        console__enabled="true",
        console__port=port,
        console__secret_key=SECRET,
        console__login_attempts=3,
    )
    with Daemon(env, folder) as daemon:
        wait_for(lambda: _answers(port), "the console to listen")
        wait_for(daemon.healthy, "the first run to succeed")
        yield Site(daemon, f"http://127.0.0.1:{port}", port, source, document, acl_server)
