"""The example workflow database of config/examples/sql, on PostgreSQL and on SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sync.ldap.localserver import LocalServer
from sync.settings import Settings, load_settings

from servers import PostgresDatabase

EXAMPLE = Path(__file__).parents[2] / "config" / "examples" / "sql"
QUERIES = EXAMPLE / "queries.toml"
READER_PASSWORD = "Reader-Secret-7f3a"


@dataclass
class Workflow:
    """The example workflow database on PostgreSQL: a superuser to change it, a reader login."""

    database: PostgresDatabase
    reader: str
    password: str

    @property
    def url(self) -> str:
        """Return the reader's URL without its password (the password is a secret)."""
        return self.database.url_as(self.reader, "x").replace(":x@", "@", 1)

    def execute(self, *statements: str) -> None:
        """Run statements as the workflow system would: one committed transaction."""
        with self.database.connect() as connection, connection.transaction():
            for statement in statements:
                connection.execute(statement)  # type: ignore[arg-type]


@pytest.fixture
def workflow_pg(postgres_db: PostgresDatabase) -> Workflow:
    """Return a fresh PostgreSQL database holding the example schema and the seed scenario."""
    with postgres_db.connect() as connection:
        connection.execute((EXAMPLE / "workflow-postgresql.sql").read_text(encoding="utf-8"))  # type: ignore[arg-type]
    reader = postgres_db.create_role(READER_PASSWORD)
    return Workflow(postgres_db, reader, READER_PASSWORD)


@pytest.fixture
def workflow_sqlite(tmp_path: Path) -> Path:
    """Return a SQLite file holding the example schema and the seed scenario."""
    path = tmp_path / "workflow.db"
    connection = sqlite3.connect(path)
    connection.executescript((EXAMPLE / "workflow-sqlite.sql").read_text(encoding="utf-8"))
    connection.close()
    return path


@pytest.fixture
def sql_settings(slapd: LocalServer, tmp_path: Path) -> Callable[..., Settings]:
    """Return a factory: settings that sync a SQL source into the test slapd."""
    count = iter(range(1000))

    def make(url: str, password: str = "", queries: Path = QUERIES, **overrides: Any) -> Settings:
        sql = {"url": url, "queries": queries, **overrides.pop("sql", {})}
        if password:
            sql["password"] = password
        ldap = {
            "url": slapd.url,
            "bind_dn": slapd.root_dn,
            "bind_password": slapd.root_pw,
            "base_dn": slapd.suffix,
        }
        overrides.setdefault("state_dir", tmp_path / f"state-{next(count)}")
        return load_settings(ldap=ldap, source={"kind": "sql", "sql": sql}, **overrides)

    return make
