"""A part of the source that comes back empty withdraws nothing (issue 19, point 3).

A query that returns no rows, or a document whose persons, accounts, orders
or staff have vanished, is a broken export: no group is deleted, no member
is withdrawn, no user is disabled, and the report says which part was empty.
Checked through SQLite, PostgreSQL, the file and HTTP against the real slapd.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from documents import big_document, without_part

from sync.core.change import Op
from sync.core.report import Report
from sync.ldap.localserver import LocalServer
from sync.run.sync import run_sync
from sync.settings import Settings, load_settings

from directory_view import entries

pytest_plugins = ["servers.fixtures", "sql_workflow"]

EXAMPLES = Path(__file__).parents[2] / "config" / "examples"
QUERIES = EXAMPLES / "sql" / "queries.toml"

EMPTIED_QUERIES = [
    "accounts",
    "persons",
    "orders",
    "contact_types",
    "person_contact_types",
    "customers",
    "internal_users",
    "roles",
]


def memberships(server: LocalServer) -> dict[str, set[str]]:
    """Return every group below ou=groups with its member values (the lease left out)."""
    return {
        dn.lower(): {value.lower() for value in attrs.get("member", [])}
        for dn, attrs in entries(server, f"ou=groups,{server.suffix}").items()
        if "groupofnames" in {c.lower() for c in attrs.get("objectclass", [])}
    }


def active_users(server: LocalServer) -> set[str]:
    """Return the DNs of the users in ou=internal and ou=external."""
    found = set()
    for ou in ("ou=internal", "ou=external"):
        found |= {dn.lower() for dn in entries(server, f"{ou},{server.suffix}") if "uid=" in dn}
    return found


def assert_nothing_withdrawn(
    server: LocalServer, before: dict[str, set[str]], users: set[str], report: Report
) -> None:
    destructive = [c for c in report.changes if c.op is Op.DELETE or c.delete_values]
    assert destructive == [], report.to_text()
    assert memberships(server) == before
    assert active_users(server) == users
    assert report.pending == []


def emptied(name: str, path: Path) -> Path:
    """Return a copy of the example queries file whose query `name` returns no rows."""
    queries = tomllib.loads(QUERIES.read_text(encoding="utf-8"))
    select = queries[name].strip()
    order = select.rfind("ORDER BY")
    queries[name] = f"{select[:order]}WHERE 1 = 0\n{select[order:]}"
    target = path / f"queries-{name}.toml"
    target.write_text(
        "\n".join(f'{key} = """\n{value}\n"""' for key, value in queries.items()), encoding="utf-8"
    )
    return target


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.parametrize("query", EMPTIED_QUERIES)
def test_a_query_that_returns_no_rows_withdraws_no_membership_and_deletes_nothing(
    slapd, tmp_path, request, sql_settings, backend, query
):
    if backend == "sqlite":
        database = request.getfixturevalue("workflow_sqlite")
        settings_of: Callable[..., Settings] = lambda **o: sql_settings(  # noqa: E731
            f"sqlite:///{database}", **o
        )
    else:
        workflow = request.getfixturevalue("workflow_pg")
        settings_of = lambda **o: sql_settings(workflow.url, workflow.password, **o)  # noqa: E731
    state = tmp_path / "state"
    first = run_sync(settings_of(state_dir=state))
    assert first.ok and not first.errors, first.to_text()
    before, users = memberships(slapd), active_users(slapd)
    assert sum(len(members) for members in before.values()) > 20

    report = run_sync(settings_of(queries=emptied(query, tmp_path), state_dir=state))

    assert report.ok, report.to_text()
    assert any(
        error.record == f"query {query}" and "returned no rows" in error.problem
        for error in report.errors
    ), report.to_text()
    assert_nothing_withdrawn(slapd, before, users, report)


def shop() -> dict[str, Any]:
    """Return a shop above the deletion guard's floor in every kind: 12 of each, 24 persons."""
    document = big_document(customers=12, persons=2)
    document["internal_users"] = [
        {"id": f"U-{n}", "login": f"staff{n}", "last_name": f"Staff {n}", "groups": [f"Role {n}"]}
        for n in range(12)
    ]
    return document


def document_without(part: str, document: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the shop (or `document`) with one part of it emptied, the rest as it was."""
    return without_part(document or shop(), part)


DOCUMENT_PARTS = ["accounts", "persons", "orders", "customers", "internal_users", "roles"]


@pytest.mark.parametrize("part", DOCUMENT_PARTS)
def test_a_document_with_a_part_emptied_withdraws_no_membership_and_deletes_nothing(
    slapd, settings_for, part
):
    first = run_sync(settings_for(shop()))
    assert first.ok and not first.errors, first.to_text()
    before, users = memberships(slapd), active_users(slapd)

    report = run_sync(settings_for(document_without(part)))

    assert report.ok, report.to_text()
    assert any(
        error.record == f"source {part}" and "broken export" in error.problem
        for error in report.errors
    ), report.to_text()
    assert_nothing_withdrawn(slapd, before, users, report)


def test_a_part_emptied_in_an_incremental_run_withdraws_nothing_either(slapd, settings_for):
    first = run_sync(settings_for(shop()))
    assert first.ok and not first.errors, first.to_text()
    assert run_sync(settings_for(shop())).changes == []  # the state is there: incremental
    before, users = memberships(slapd), active_users(slapd)

    report = run_sync(settings_for(document_without("accounts")))

    assert report.ok, report.to_text()
    assert_nothing_withdrawn(slapd, before, users, report)


def test_a_part_the_directory_never_held_is_no_broken_export(slapd, settings_for, seed):
    for user in seed["internal_users"]:
        user["groups"] = []
    report = run_sync(settings_for(seed))
    assert report.ok and not report.errors, report.to_text()
    assert run_sync(settings_for(seed)).errors == []


def test_a_small_directory_below_the_guards_floor_changes_freely(slapd, settings_for, seed):
    assert run_sync(settings_for(seed)).ok
    assert memberships(slapd)

    report = run_sync(settings_for(document_without("orders", seed)))

    assert report.ok and not report.errors, report.to_text()
    assert not [dn for dn in memberships(slapd) if "ou=orders" in dn]


def test_accounts_emptied_over_http_withdraw_nothing(slapd, tmp_path, http_source):
    def settings() -> Settings:
        return load_settings(
            ldap={
                "url": slapd.url,
                "bind_dn": slapd.root_dn,
                "bind_password": slapd.root_pw,
                "base_dn": slapd.suffix,
            },
            source={"kind": "http", "http": {"url": http_source.url_for("/export.json")}},
            state_dir=tmp_path / "state",
        )

    http_source.publish("/export.json", shop())
    first = run_sync(settings())
    assert first.ok and not first.errors, first.to_text()
    before, users = memberships(slapd), active_users(slapd)

    http_source.publish("/export.json", document_without("accounts"))
    report = run_sync(settings())

    assert report.ok, report.to_text()
    assert any(error.record == "source accounts" for error in report.errors), report.to_text()
    assert_nothing_withdrawn(slapd, before, users, report)
