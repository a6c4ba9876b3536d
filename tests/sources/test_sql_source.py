"""The SQL source on a real PostgreSQL and on SQLite: the seed scenario read where it lives.

The example workflow schema of config/examples/sql holds the seed scenario;
its queries file maps it. These tests sync it into the real slapd and look
at the directory, not at the report.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import Engine, event

from sync.core.report import ExitCode
from sync.ldap.localserver import LocalServer
from sync.run.sync import run_sync
from sync.settings import load_settings
from sync.sources.sql.reader import SqlSource
from sync.sources.sql.settings import SqlSourceSettings

from conftest import empty_tree
from directory_view import OWN, entries, users, write_stamps
from servers import PostgresCluster

pytest_plugins = ["servers.fixtures", "sql_workflow"]

EXAMPLES = Path(__file__).parents[2] / "config" / "examples"
SEED_JSON = EXAMPLES / "seed-scenario.json"
QUERIES = EXAMPLES / "sql" / "queries.toml"


def directory(server: LocalServer) -> dict[str, dict[str, list[str]]]:
    """Return the managed tree without what every write changes (entryCSN, entryUUID, lease)."""
    return {
        dn: {
            name: sorted(values)
            for name, values in attrs.items()
            if name not in ("entrycsn", "entryuuid")
        }
        for dn, attrs in entries(server).items()
        if not dn.startswith(OWN)
    }


def test_the_seed_from_postgresql_from_sqlite_and_from_json_gives_the_same_directory(
    slapd, tmp_path, workflow_pg, workflow_sqlite, sql_settings
):
    ldap = {
        "url": slapd.url,
        "bind_dn": slapd.root_dn,
        "bind_password": slapd.root_pw,
        "base_dn": slapd.suffix,
    }
    from_json = load_settings(ldap=ldap, source={"path": SEED_JSON}, state_dir=tmp_path / "json")
    assert run_sync(from_json).exit_code is ExitCode.SUCCESS
    expected = directory(slapd)
    assert len(expected) > 20

    empty_tree(slapd)
    report = run_sync(sql_settings(workflow_pg.url, workflow_pg.password))
    assert report.exit_code is ExitCode.SUCCESS, report.to_text()
    assert directory(slapd) == expected

    empty_tree(slapd)
    report = run_sync(sql_settings(f"sqlite:///{workflow_sqlite}"))
    assert report.exit_code is ExitCode.SUCCESS, report.to_text()
    assert directory(slapd) == expected


def test_a_row_changed_in_the_database_reaches_the_directory_on_the_next_run(
    slapd, workflow_pg, sql_settings
):
    settings = sql_settings(workflow_pg.url, workflow_pg.password)
    assert run_sync(settings).exit_code is ExitCode.SUCCESS
    workflow_pg.execute(
        "INSERT INTO contact (contact_no, company_no, given_name, family_name) "
        "VALUES ('P-21', '10001', 'Lena', 'Vogel')",
        "INSERT INTO contact_department (contact_no, company_no, dept_code) VALUES ('P-21', '10001', 'ct-achats')",
        "INSERT INTO web_login (contact_no, user_name) VALUES ('P-21', 'lvogel')",
        "UPDATE web_login SET active = FALSE WHERE contact_no = 'P-20'",
    )
    assert "lvogel" not in users(slapd, "ou=external")
    report = run_sync(settings)
    assert report.exit_code is ExitCode.SUCCESS, report.to_text()
    assert "lvogel" in users(slapd, "ou=external")
    order = entries(slapd)[f"cn=order-_20261121_003,ou=orders,ou=groups,{slapd.suffix}"]
    assert not any(member.startswith("uid=pbraun,") for member in order.get("member", []))


def replace_query(path: Path, name: str, select: str) -> Path:
    """Return a copy of the example queries file with one query replaced."""
    import tomllib

    queries = tomllib.loads(QUERIES.read_text(encoding="utf-8"))
    queries[name] = select
    lines = [f'{key} = """\n{value}\n"""' for key, value in queries.items()]
    target = path / "queries.toml"
    target.write_text("\n".join(lines), encoding="utf-8")
    return target


BROKEN_QUERIES = {
    "a query with an error": (
        "persons",
        "SELECT company_no AS customer, contact_no AS id, family_name AS last_name FROM contacts",
        ["query persons", "contacts"],
    ),
    "a missing column": (
        "persons",
        "SELECT company_no AS customer, contact_no AS id, given_name AS first_name FROM contact",
        ["query persons", "'last_name' is missing"],
    ),
    "a misspelt column": (
        "accounts",
        "SELECT contact_no AS person, user_name AS login, active AS enabeld FROM web_login",
        ["query accounts", "'enabeld'"],
    ),
}


@pytest.mark.parametrize("case", list(BROKEN_QUERIES))
def test_a_broken_query_ends_the_run_before_the_directory_is_touched(
    slapd, tmp_path, workflow_pg, sql_settings, case
):
    assert (
        run_sync(sql_settings(workflow_pg.url, workflow_pg.password)).exit_code is ExitCode.SUCCESS
    )
    before = write_stamps(slapd)
    name, select, words = BROKEN_QUERIES[case]
    queries = replace_query(tmp_path, name, select)
    workflow_pg.execute("DELETE FROM employee_role")  # a change the run would otherwise apply
    report = run_sync(sql_settings(workflow_pg.url, workflow_pg.password, queries=queries))
    assert report.exit_code is ExitCode.SOURCE
    for word in words:
        assert word in report.failure
    assert write_stamps(slapd) == before


def test_a_wrong_password_ends_the_run_and_is_never_shown(slapd, workflow_pg, sql_settings, caplog):
    assert (
        run_sync(sql_settings(workflow_pg.url, workflow_pg.password)).exit_code is ExitCode.SUCCESS
    )
    before = write_stamps(slapd)
    caplog.set_level(logging.DEBUG)
    report = run_sync(sql_settings(workflow_pg.url, "Wrong-Secret-91c2"))
    assert report.exit_code is ExitCode.SOURCE
    assert "password authentication failed" in report.failure
    assert write_stamps(slapd) == before
    shown = report.to_text() + report.to_json() + caplog.text
    assert "Wrong-Secret-91c2" not in shown
    assert workflow_pg.password not in shown


def test_a_stopped_database_ends_the_run_before_the_directory_is_touched(
    slapd, postgres: PostgresCluster, workflow_pg, sql_settings
):
    settings = sql_settings(workflow_pg.url, workflow_pg.password)
    assert run_sync(settings).exit_code is ExitCode.SUCCESS
    before = write_stamps(slapd)
    with postgres.down():
        report = run_sync(settings)
    assert report.exit_code is ExitCode.SOURCE
    assert "connect" in report.failure and "refused" in report.failure
    assert write_stamps(slapd) == before


def test_the_password_comes_from_the_secrets_directory(slapd, tmp_path, workflow_pg, monkeypatch):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "source__sql__password").write_text(workflow_pg.password, encoding="utf-8")
    monkeypatch.setenv("PORTAL_SYNC_SECRETS_DIR", str(secrets))
    settings = load_settings(
        ldap={
            "url": slapd.url,
            "bind_dn": slapd.root_dn,
            "bind_password": slapd.root_pw,
            "base_dn": slapd.suffix,
        },
        source={"kind": "sql", "sql": {"url": workflow_pg.url, "queries": QUERIES}},
        state_dir=tmp_path / "state",
    )
    assert workflow_pg.password not in repr(settings) + settings.model_dump_json()
    assert run_sync(settings).exit_code is ExitCode.SUCCESS
    assert "cdubois" in users(slapd, "ou=external")


def test_a_row_with_a_bad_value_is_a_named_record_error_and_the_rest_syncs(
    slapd, workflow_pg, sql_settings
):
    settings = sql_settings(workflow_pg.url, workflow_pg.password)
    assert run_sync(settings).exit_code is ExitCode.SUCCESS
    stamps = write_stamps(slapd)
    marc = next(dn for dn in stamps if dn.startswith("uid=mlefevre,"))
    workflow_pg.execute(
        "UPDATE contact SET email_address = 'marc at lumiere', family_name = 'Lefebvre' WHERE contact_no = 'P-2'",
        "UPDATE contact SET family_name = 'Braun-Weiss' WHERE contact_no = 'P-20'",
    )
    report = run_sync(settings)
    assert report.exit_code is ExitCode.RECORD_ERRORS
    assert [str(error) for error in report.errors if "P-2 " in f"{error} "] and any(
        "person P-2" in str(error) and "email" in str(error) for error in report.errors
    ), [str(e) for e in report.errors]
    after = write_stamps(slapd)
    assert after[marc] == stamps[marc]
    braun = entries(slapd)[next(dn for dn in after if dn.startswith("uid=pbraun,"))]
    assert braun["sn"] == ["Braun-Weiss"]


def test_a_query_that_suddenly_returns_no_rows_deletes_nothing(
    slapd, tmp_path, workflow_pg, sql_settings
):
    assert (
        run_sync(sql_settings(workflow_pg.url, workflow_pg.password)).exit_code is ExitCode.SUCCESS
    )
    before = write_stamps(slapd)
    queries = replace_query(
        tmp_path,
        "persons",
        "SELECT company_no AS customer, contact_no AS id, family_name AS last_name FROM contact WHERE 1 = 0",
    )
    report = run_sync(sql_settings(workflow_pg.url, workflow_pg.password, queries=queries))
    assert report.exit_code is ExitCode.RECORD_ERRORS
    assert any("query persons" in str(error) and "no rows" in str(error) for error in report.errors)
    assert set(write_stamps(slapd)) == set(before)
    assert "cdubois" in users(slapd, "ou=external")


def test_a_change_committed_while_a_run_reads_is_seen_whole_or_not_at_all(
    slapd, workflow_pg, sql_settings
):
    """A new customer with its person and account commits between the run's first two queries."""
    settings = sql_settings(workflow_pg.url, workflow_pg.password)
    committed = []

    def commit_after_customers(conn, cursor, statement, parameters, context, executemany):
        if "FROM company\n" in statement and not committed:
            committed.append(True)
            workflow_pg.execute(
                "INSERT INTO company (company_no, company_name, portal_access) VALUES ('10005', 'Nordlicht AG', TRUE)",
                "INSERT INTO company_department (company_no, dept_code) VALUES ('10005', 'customer')",
                "INSERT INTO contact (contact_no, company_no, family_name) VALUES ('P-50', '10005', 'Nord')",
                "INSERT INTO contact_department (contact_no, company_no, dept_code) VALUES ('P-50', '10005', 'customer')",
                "INSERT INTO web_login (contact_no, user_name) VALUES ('P-50', 'knord')",
            )

    event.listen(Engine, "after_cursor_execute", commit_after_customers)
    try:
        report = run_sync(settings)
    finally:
        event.remove(Engine, "after_cursor_execute", commit_after_customers)
    assert committed
    assert report.exit_code is ExitCode.SUCCESS, [str(e) for e in report.errors]
    assert "knord" not in users(slapd, "ou=external")
    report = run_sync(settings)
    assert report.exit_code is ExitCode.SUCCESS, [str(e) for e in report.errors]
    assert "knord" in users(slapd, "ou=external")


def test_on_sqlite_too_a_change_committed_while_a_run_reads_is_not_seen_half(
    slapd, workflow_sqlite, sql_settings
):
    """In WAL mode a writer commits while the run reads: the run's one transaction hides it."""
    with sqlite3.connect(workflow_sqlite) as setup:
        setup.execute("PRAGMA journal_mode = WAL")
    settings = sql_settings(f"sqlite:///{workflow_sqlite}")
    committed = []

    def commit_after_customers(conn, cursor, statement, parameters, context, executemany):
        if "FROM company\n" in statement and not committed:
            committed.append(True)
            writer = sqlite3.connect(workflow_sqlite)
            with writer:
                writer.executescript(
                    "INSERT INTO company (company_no, company_name, portal_access) VALUES ('10005', 'Nordlicht AG', 1);"
                    "INSERT INTO company_department (company_no, dept_code) VALUES ('10005', 'customer');"
                    "INSERT INTO contact (contact_no, company_no, family_name) VALUES ('P-50', '10005', 'Nord');"
                    "INSERT INTO contact_department (contact_no, company_no, dept_code) VALUES ('P-50', '10005', 'customer');"
                    "INSERT INTO web_login (contact_no, user_name) VALUES ('P-50', 'knord');"
                )
            writer.close()

    event.listen(Engine, "after_cursor_execute", commit_after_customers)
    try:
        report = run_sync(settings)
    finally:
        event.remove(Engine, "after_cursor_execute", commit_after_customers)
    assert committed
    assert report.exit_code is ExitCode.SUCCESS, [str(e) for e in report.errors]
    assert "knord" not in users(slapd, "ou=external")
    assert run_sync(settings).exit_code is ExitCode.SUCCESS
    assert "knord" in users(slapd, "ou=external")


def test_the_change_query_answers_differently_after_a_commit(
    workflow_sqlite, workflow_pg, tmp_path
):
    import sqlite3

    lite = SqlSource(SqlSourceSettings(url=f"sqlite:///{workflow_sqlite}", queries=QUERIES))
    before = lite.change_token()
    assert lite.change_token() == before
    with sqlite3.connect(workflow_sqlite) as writer:
        writer.execute("UPDATE web_login SET active = 0 WHERE contact_no = 'P-20'")
    assert lite.change_token() != before

    pg = SqlSource(
        SqlSourceSettings(url=workflow_pg.url, password=workflow_pg.password, queries=QUERIES)
    )
    before = pg.change_token()
    workflow_pg.execute(
        "DELETE FROM employee_role WHERE role_name = 'Prepress' AND employee_no = 'U-1'"
    )
    assert pg.change_token() != before
