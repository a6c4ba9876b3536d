"""The example workflow database (config/examples/sql) filled with any source document.

The benchmarks of the SQL source need the same structure in PostgreSQL as
in a JSON file: `load` turns a document into the example schema's rows and
copies them in. PostgreSQL itself is the test suite's throwaway cluster
(tests/servers/postgres.py), started as the suite starts it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "examples" / "sql"
QUERIES = EXAMPLE / "queries.toml"
READER_PASSWORD = "Bench-Reader-1"

Table = tuple[tuple[str, ...], list[tuple[Any, ...]]]


def schema(dialect: str = "postgresql") -> str:
    """Return the example schema's DDL (tables, triggers) without the seed rows."""
    text = (EXAMPLE / f"workflow-{dialect}.sql").read_text(encoding="utf-8")
    return text[: text.index("INSERT INTO")]


def rows(document: dict[str, Any]) -> dict[str, Table]:
    """Return the rows of each table of the example schema that hold `document`."""
    customers = document.get("customers", [])
    persons = [(c, p) for c in customers for p in c.get("persons", [])]
    users = document.get("internal_users", [])
    return {
        "company": (
            ("company_no", "company_name", "short_name", "portal_access", "is_agency"),
            [
                (
                    c["id"],
                    c["name"],
                    c.get("nickname"),
                    c.get("remote_access", False),
                    c.get("agency", False),
                )
                for c in customers
            ],
        ),
        "company_department": (
            ("company_no", "dept_code", "dept_label"),
            [
                (c["id"], t["id"], t.get("name"))
                for c in customers
                for t in c.get("contact_types", [])
            ],
        ),
        "contact": (
            (
                *("contact_no", "company_no", "given_name", "family_name", "email_address"),
                *("phone_office", "phone_mobile", "fax_no", "homepage"),
            ),
            [
                (
                    *(p["id"], c["id"], p.get("first_name"), p.get("last_name"), p.get("email")),
                    *(p.get("phone"), p.get("mobile"), p.get("fax"), p.get("web")),
                )
                for c, p in persons
            ],
        ),
        "contact_department": (
            ("contact_no", "company_no", "dept_code"),
            [(p["id"], c["id"], t) for c, p in persons for t in p.get("contact_types", [])],
        ),
        "web_login": (
            ("contact_no", "user_name", "active", "password_hash"),
            [
                (
                    *(p["id"], p["account"]["login"], p["account"].get("enabled", True)),
                    p["account"].get("password_hash"),
                )
                for c, p in persons
                if p.get("account")
            ],
        ),
        "employee": (
            (
                *("employee_no", "user_name", "given_name", "family_name", "email_address"),
                *("phone_ext", "active", "password_hash"),
            ),
            [
                (
                    *(u["id"], u["login"], u.get("first_name"), u.get("last_name"), u.get("email")),
                    *(u.get("phone"), u.get("enabled", True), u.get("password_hash")),
                )
                for u in users
            ],
        ),
        "employee_role": (
            ("employee_no", "role_name"),
            [(u["id"], g) for u in users for g in dict.fromkeys(u.get("groups", []))],
        ),
        "job": (
            ("job_no", "job_title", "company_no", "agency_no", "on_portal"),
            [
                (
                    o["id"],
                    o.get("name"),
                    o["customer"],
                    o.get("agency"),
                    o.get("portal_visible", False),
                )
                for o in document.get("orders", [])
            ],
        ),
    }


def load(connection: psycopg.Connection[Any], document: dict[str, Any]) -> dict[str, int]:
    """Create the example schema and copy `document` into it; return the rows per table.

    Foreign keys are not checked while copying (a generated document may
    hold the record errors a real export has); the sync reports those.
    """
    counts = {}
    with connection.transaction():
        connection.execute(schema())
        connection.execute("SET LOCAL session_replication_role = replica")
        with connection.cursor() as cursor:
            for table, (columns, values) in rows(document).items():
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for value in values:
                        copy.write_row(value)
                counts[table] = len(values)
    return counts


@contextmanager
def postgres() -> Iterator[Any]:
    """Yield the test suite's PostgreSQL cluster, started, and stop it afterwards."""
    sys.path.insert(0, str(ROOT / "tests"))
    module = importlib.import_module("servers.postgres")
    cluster = module.PostgresCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def workflow_database(cluster: Any, document: dict[str, Any]) -> tuple[str, str, dict[str, int]]:
    """Return (reader URL without password, database name, rows) of a new loaded database."""
    name = cluster.create_database("bench")
    with cluster.connect(name) as connection:
        counts = load(connection, document)
    reader = cluster.create_role(READER_PASSWORD)
    url = str(cluster.url(name, reader, "x")).replace(":x@", "@", 1)
    return url, name, counts
