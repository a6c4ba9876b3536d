"""The incremental state is trusted only when the directory holds the token it was saved with.

Each test syncs into a fresh OU of one slapd and, where it matters, compares
the result with a full rebuild of the same source into another, empty OU
(`performance.incremental = false`): DNs relative to each OU, every value.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ldap3 import BASE, MODIFY_REPLACE, SUBTREE
from ldap3.core.exceptions import LDAPNoSuchObjectResult

from benchmarks.generate import change_one_person, generate
from sync.ldap.localserver import LocalServer
from sync.run.state import FILE_NAME
from sync.run.sync import run_sync
from sync.settings import Settings

from conftest import (
    PORTAL_DN,
    PORTAL_PASSWORD,
    SERVICES,
    SYNC_DN,
    SYNC_PASSWORD,
    empty_tree,
    running,
    settings_factory,
    shipped_acl,
)
from directory_view import connect, make_base, tree_of

pytestmark = pytest.mark.slapd

TOKEN_RDN = "cn=portal-sync-state"
MISMATCH = "the incremental state does not match the directory's"
START = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def token_entry(server: LocalServer, base: str) -> dict[str, list[str]] | None:
    """Return the token entry's description and entryCSN, or None when there is none."""
    with connect(server) as conn:
        try:
            conn.search(
                f"{TOKEN_RDN},{base}",
                "(objectClass=*)",
                BASE,
                attributes=["description", "entryCSN"],
            )
        except LDAPNoSuchObjectResult:
            return None
        if not conn.entries:
            return None
        return {k.lower(): list(v) for k, v in conn.entries[0].entry_attributes_as_dict.items()}


def delete_token_entry(server: LocalServer, base: str) -> None:
    with connect(server) as conn:
        conn.delete(f"{TOKEN_RDN},{base}")


def set_mail_by_hand(server: LocalServer, base: str, mail: str) -> str:
    """Change the e-mail of one external user as an administrator would; return its DN."""
    with connect(server) as conn:
        conn.search(f"ou=external,{base}", "(mail=*)", SUBTREE, attributes=["mail"])
        dn = sorted(entry.entry_dn for entry in conn.entries)[0]
        assert conn.modify(dn, {"mail": [(MODIFY_REPLACE, [mail])]}), conn.result
    return dn


class Shop:
    """One slapd, a factory of settings, and full rebuilds to compare with."""

    def __init__(self, server: LocalServer, folder: Path) -> None:
        self.server = server
        self.folder = folder
        self.make = settings_factory(server, server.root_dn, server.root_pw, folder)
        self.clock = START
        self.rebuilds = 0

    def settings(self, document: dict[str, Any], base: str, state: str, **extra: Any) -> Settings:
        return self.make(
            copy.deepcopy(document),
            ldap={"base_dn": base},
            state_dir=self.folder / state,
            **extra,
        )

    def run(self, settings: Settings, **options: Any) -> Any:
        self.clock += timedelta(minutes=10)
        return run_sync(settings, allow_deletions=10_000, now=self.clock, **options)

    def rebuild(self, document: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
        """Return what a full rebuild of `document` into an empty OU holds."""
        self.rebuilds += 1
        base = make_base(self.server, f"rebuild{self.rebuilds}")
        settings = self.settings(
            document, base, f"rebuild{self.rebuilds}", performance={"incremental": False}
        )
        report = run_sync(settings, allow_deletions=10_000, now=self.clock)
        assert report.ok, report.to_text()
        return tree_of(self.server, base)


@pytest.fixture
def shop(slapd: LocalServer, tmp_path: Path) -> Shop:
    return Shop(slapd, tmp_path)


def test_a_state_file_copied_back_from_an_earlier_run_makes_a_full_and_correct_run(shop, caplog):
    document = generate("XS", seed=41)
    base = make_base(shop.server, "synced")
    assert shop.run(shop.settings(document, base, "state")).ok
    earlier = (shop.folder / "state" / FILE_NAME).read_bytes()
    changed = copy.deepcopy(document)
    change_one_person(changed)
    assert shop.run(shop.settings(changed, base, "state")).counts() == {"modify": 1}

    (shop.folder / "state" / FILE_NAME).write_bytes(earlier)
    with caplog.at_level(logging.INFO, logger="portal_sync"):
        report = shop.run(shop.settings(document, base, "state"))

    assert report.ok and report.counts() == {"modify": 1}, report.to_text()
    assert MISMATCH in caplog.text
    assert tree_of(shop.server, base) == shop.rebuild(document)


def test_a_state_another_run_made_stale_makes_a_full_and_correct_run(shop, caplog):
    """Two state directories, one directory: a run with the other state changed the entries."""
    document = generate("XS", seed=42)
    base = make_base(shop.server, "synced")
    assert shop.run(shop.settings(document, base, "host-a")).ok
    changed = copy.deepcopy(document)
    change_one_person(changed)
    assert shop.run(shop.settings(changed, base, "host-b")).counts() == {"modify": 1}

    with caplog.at_level(logging.INFO, logger="portal_sync"):
        report = shop.run(shop.settings(document, base, "host-a"))

    assert report.ok and report.counts() == {"modify": 1}, report.to_text()
    assert MISMATCH in caplog.text
    assert tree_of(shop.server, base) == shop.rebuild(document)


def test_a_state_from_another_directory_base_makes_a_full_and_correct_run(shop, caplog):
    document = generate("XS", seed=43)
    changed = copy.deepcopy(document)
    change_one_person(changed)
    here, there = make_base(shop.server, "here"), make_base(shop.server, "there")
    assert shop.run(shop.settings(document, there, "there")).ok
    assert shop.run(shop.settings(changed, here, "here")).ok
    shutil.copy(shop.folder / "there" / FILE_NAME, shop.folder / "here" / FILE_NAME)

    with caplog.at_level(logging.INFO, logger="portal_sync"):
        report = shop.run(shop.settings(document, here, "here"))

    assert report.ok and report.counts() == {"modify": 1}, report.to_text()
    assert "full reconciliation" in caplog.text
    assert "incremental run:" not in caplog.text
    assert tree_of(shop.server, here) == shop.rebuild(document)


def test_the_token_entry_deleted_by_hand_makes_a_full_and_correct_run(shop, caplog):
    document = generate("XS", seed=44)
    base = make_base(shop.server, "synced")
    assert shop.run(shop.settings(document, base, "state")).ok
    set_mail_by_hand(shop.server, base, "by.hand@example.org")
    delete_token_entry(shop.server, base)

    with caplog.at_level(logging.INFO, logger="portal_sync"):
        report = shop.run(shop.settings(document, base, "state"))

    assert report.ok and report.counts() == {"modify": 1}, report.to_text()
    assert "full reconciliation" in caplog.text
    assert tree_of(shop.server, base) == shop.rebuild(document)
    assert token_entry(shop.server, base) is not None


def test_a_normal_second_run_stays_incremental_and_a_run_without_change_writes_no_token(
    shop, caplog
):
    document = generate("XS", seed=45)
    base = make_base(shop.server, "synced")
    assert shop.run(shop.settings(document, base, "state")).ok
    change_one_person(document)
    with caplog.at_level(logging.INFO, logger="portal_sync"):
        report = shop.run(shop.settings(document, base, "state"))
    assert report.ok and report.counts() == {"modify": 1}, report.to_text()
    assert "incremental run: " in caplog.text
    assert "full reconciliation" not in caplog.text

    token = token_entry(shop.server, base)
    assert token is not None, "the run stored no token in the directory"
    state = json.loads((shop.folder / "state" / FILE_NAME).read_text(encoding="utf-8"))
    assert token["description"] == [state["token"]]

    hidden = next(order for order in document["orders"] if not order["portal_visible"])
    hidden["name"] = "renamed but still not on the portal"
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="portal_sync"):
        quiet = shop.run(shop.settings(document, base, "state"))
        unchanged = shop.run(shop.settings(document, base, "state"))
    assert quiet.ok and quiet.counts() == {} and unchanged.ok and unchanged.counts() == {}
    assert "full reconciliation" not in caplog.text
    assert token_entry(shop.server, base) == token


def test_a_dry_run_writes_no_token(shop):
    document = generate("XS", seed=46)
    base = make_base(shop.server, "synced")
    assert shop.run(shop.settings(document, base, "state")).ok
    token = token_entry(shop.server, base)
    change_one_person(document)
    assert shop.run(shop.settings(document, base, "state"), dry_run=True).counts()
    assert token is not None and token_entry(shop.server, base) == token


def test_under_the_shipped_acl_the_sync_account_keeps_its_token(
    acl_slapd, sync_settings_for, caplog
):
    document = generate("XS", seed=47)
    assert run_sync(sync_settings_for(document)).ok
    change_one_person(document)
    settings = sync_settings_for(document)
    with caplog.at_level(logging.INFO, logger="portal_sync"):
        report = run_sync(settings)
    assert report.ok and report.counts() == {"modify": 1}, report.to_text()
    assert not report.warnings
    assert "incremental run: " in caplog.text
    state = json.loads((settings.state_dir / FILE_NAME).read_text(encoding="utf-8"))
    token = token_entry(acl_slapd, settings.ldap.base_dn)
    assert token is not None and token["description"] == [state["token"]]


def acl_before_tokens() -> str:
    """Return the shipped ACL without its rule for the token entry, as it was before tokens."""
    rule = re.compile(
        r"^olcAccess: \{\d+\}to dn\.base=\"cn=portal-sync-state,.*?(?=^olcAccess:)", re.M | re.S
    )
    return rule.sub("", shipped_acl())


@pytest.fixture(scope="module")
def old_acl_server() -> Iterator[LocalServer]:
    yield from running(LocalServer(config_changes=(acl_before_tokens(),)))


def test_a_token_the_acl_refuses_costs_full_runs_with_a_warning_never_a_wrong_one(
    old_acl_server, tmp_path, caplog
):
    empty_tree(old_acl_server)
    old_acl_server.ldapadd(SERVICES)
    portal = {"bind_dn": PORTAL_DN, "bind_password": PORTAL_PASSWORD}
    make = settings_factory(old_acl_server, SYNC_DN, SYNC_PASSWORD, tmp_path, portal=portal)
    document = generate("XS", seed=48)
    first = run_sync(make(document))
    assert first.ok, first.to_text()
    [warning] = first.warnings
    assert "cannot keep the incremental state" in warning and TOKEN_RDN in warning
    assert not (tmp_path / "state" / FILE_NAME).exists()

    changed = copy.deepcopy(document)
    change_one_person(changed)
    with caplog.at_level(logging.INFO, logger="portal_sync"):
        second = run_sync(make(changed))
    assert second.ok and second.counts() == {"modify": 1}, second.to_text()
    assert "full reconciliation: no incremental state yet" in caplog.text
    assert run_sync(make(changed), full=True).counts() == {}
