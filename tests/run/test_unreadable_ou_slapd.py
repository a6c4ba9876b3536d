"""A managed OU the service account cannot read is a configuration error (issue 19, point 4).

A slapd runs the shipped ACLs plus one rule that hides ou=orders,ou=groups
from the sync account. The entries there were made by the service (as the
rootdn, which no ACL binds); a run as the sync account must stop with exit 2
naming the OU and the right it lacks, plan nothing in it, and the daemon's
/healthz must say unhealthy. Nothing in the OU may change.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from daemons import Daemon, environment, wait_for, write_source

from sync.core.report import ExitCode
from sync.ldap.localserver import LocalServer
from sync.run.sync import run_sync
from sync.settings import Settings

from conftest import (
    SERVICES,
    SYNC_DN,
    SYNC_PASSWORD,
    empty_tree,
    running,
    settings_factory,
    shipped_acl,
)
from directory_view import write_stamps

pytestmark = pytest.mark.slapd

ORDERS = "ou=orders,ou=groups"


def hiding(ou: str, scope: str = "subtree", suffix: str = "dc=example,dc=org") -> str:
    """Return the shipped ACL LDIF with a first rule hiding `ou` (or below it) from the sync."""
    text = shipped_acl(suffix).replace("\n ", "")
    rules = re.findall(r"^olcAccess: \{\d+\}(.*)$", text, flags=re.M)
    hidden = f'to dn.{scope}="{ou},{suffix}" by dn.exact="{SYNC_DN}" none by * none'
    numbered = [f"olcAccess: {{{n}}}{rule}" for n, rule in enumerate([hidden, *rules])]
    head, _, tail = text.partition("replace: olcAccess\n")
    rest = "\n".join(line for line in tail.splitlines() if not line.startswith("olcAccess:"))
    return f"{head}replace: olcAccess\n" + "\n".join(numbered) + "\n" + rest + "\n"


@pytest.fixture(scope="module")
def hidden_server() -> Iterator[LocalServer]:
    server = LocalServer(config_changes=(hiding(ORDERS),))
    yield from running(server)


@pytest.fixture
def hidden_slapd(hidden_server: LocalServer) -> LocalServer:
    empty_tree(hidden_server)
    hidden_server.ldapadd(SERVICES)
    return hidden_server


def order_stamps(server: LocalServer) -> dict[str, str]:
    return {dn: csn for dn, csn in write_stamps(server).items() if ORDERS in dn}


def made_by_the_service(
    server: LocalServer, tmp_path: Path, seed: dict
) -> tuple[Callable[..., Settings], Callable[..., Settings]]:
    """Sync the seed as the rootdn (no ACL binds it); return the two settings factories."""
    as_root = settings_factory(server, server.root_dn, server.root_pw, tmp_path)
    as_sync = settings_factory(server, SYNC_DN, SYNC_PASSWORD, tmp_path)
    first = run_sync(as_root(seed))
    assert first.ok and not first.errors, first.to_text()
    return as_root, as_sync


def without_agency(seed: dict) -> dict:
    for order in seed["orders"]:
        order.pop("agency", None)
    return seed


@pytest.mark.parametrize("state", ["incremental state", "no state"])
def test_an_ou_hidden_from_the_service_account_stops_the_run_naming_it(
    hidden_slapd, tmp_path, seed, state
):
    _, as_sync = made_by_the_service(hidden_slapd, tmp_path, seed)
    assert order_stamps(hidden_slapd)
    before = order_stamps(hidden_slapd)
    settings = as_sync(without_agency(seed))
    if state == "no state":
        settings = settings.model_copy(update={"state_dir": tmp_path / "fresh"})

    report = run_sync(settings)

    assert report.exit_code is ExitCode.CONFIGURATION, report.to_text()
    assert f"{ORDERS},{hidden_slapd.suffix}" in (report.failure or "")
    assert "read access" in (report.failure or "")
    assert not [c for c in report.changes if ORDERS in c.dn.lower()]
    assert not any("does not own" in error.problem for error in report.errors)
    assert order_stamps(hidden_slapd) == before


def test_the_daemon_turns_unhealthy_when_a_managed_ou_is_hidden(hidden_slapd, tmp_path, seed):
    made_by_the_service(hidden_slapd, tmp_path, seed)
    before = order_stamps(hidden_slapd)
    source = tmp_path / "daemon-source.json"
    write_source(source, without_agency(seed))
    env = environment(
        hidden_slapd,
        source,
        tmp_path / "state",
        LDAP__BIND_DN=SYNC_DN,
        LDAP__BIND_PASSWORD=SYNC_PASSWORD,
        SCHEDULE__RETRY_INITIAL=60,
    )
    with Daemon(env, tmp_path) as daemon:
        status, body = wait_for(
            lambda: (answer := daemon.health())[1].get("last_run") and answer,
            "the daemon's first run",
        )
        assert status == 503, body
        assert body["last_run"]["outcome"] == "configuration-error", body
        assert ORDERS in body["reason"], body
    assert order_stamps(hidden_slapd) == before


@pytest.fixture(scope="module")
def children_hidden_server() -> Iterator[LocalServer]:
    server = LocalServer(config_changes=(hiding(ORDERS, scope="children"),))
    yield from running(server)


@pytest.mark.parametrize("state", ["incremental state", "no state"])
def test_entries_hidden_below_a_readable_ou_stop_the_run_naming_it(
    children_hidden_server, tmp_path, seed, state
):
    empty_tree(children_hidden_server)
    children_hidden_server.ldapadd(SERVICES)
    _, as_sync = made_by_the_service(children_hidden_server, tmp_path, seed)
    before = order_stamps(children_hidden_server)
    settings = as_sync(without_agency(seed))
    if state == "no state":
        settings = settings.model_copy(update={"state_dir": tmp_path / "fresh"})

    report = run_sync(settings)

    assert report.exit_code is ExitCode.CONFIGURATION, report.to_text()
    assert f"{ORDERS},{children_hidden_server.suffix}" in (report.failure or "")
    assert "read access" in (report.failure or "")
    assert not any("does not own" in error.problem for error in report.errors)
    assert order_stamps(children_hidden_server) == before
