"""The docs' CASE maps a built-in contact type stored under a localised name (docs/sources.md)."""

from __future__ import annotations

import sqlite3
import tomllib
from pathlib import Path

from sync.settings import load_settings
from sync.sources.sql.reader import SqlSource

EXAMPLE = Path(__file__).parents[2] / "config" / "examples" / "sql"
BUILT_IN = "CASE WHEN dept_code = 'Kunde' THEN 'customer' ELSE dept_code END"


def database(path: Path, localised: bool) -> Path:
    connection = sqlite3.connect(path)
    connection.executescript((EXAMPLE / "workflow-sqlite.sql").read_text(encoding="utf-8"))
    if localised:
        connection.execute("PRAGMA foreign_keys = OFF")
        for table in ("company_department", "contact_department"):
            connection.execute(
                f"UPDATE {table} SET dept_code = 'Kunde' WHERE dept_code = 'customer'"
            )
        connection.commit()
    connection.close()
    return path


def mapped_queries(path: Path) -> Path:
    queries = tomllib.loads((EXAMPLE / "queries.toml").read_text(encoding="utf-8"))
    queries["contact_types"] = queries["contact_types"].replace(
        "dept_code AS id", f"{BUILT_IN} AS id"
    )
    queries["person_contact_types"] = queries["person_contact_types"].replace(
        "dept_code AS contact_type", f"{BUILT_IN} AS contact_type"
    )
    path.write_text(
        "\n".join(f'{key} = """\n{value}\n"""' for key, value in queries.items()), encoding="utf-8"
    )
    return path


def ordered(document):
    """Return the document with each customer's contact types in id order (ORDER BY differs)."""
    data = document.model_dump()
    for customer in data["customers"]:
        customer["contact_types"].sort(key=lambda contact_type: contact_type["id"])
    return data


def read(url: str, queries: Path):
    settings = load_settings(source={"kind": "sql", "sql": {"url": url, "queries": queries}})
    return SqlSource(settings.source.sql).load()


def test_a_case_in_both_queries_reads_the_localised_built_in_type_as_customer(tmp_path):
    plain = database(tmp_path / "plain.db", localised=False)
    localised = database(tmp_path / "localised.db", localised=True)
    expected = read(f"sqlite:///{plain}", EXAMPLE / "queries.toml")
    mapped = read(f"sqlite:///{localised}", mapped_queries(tmp_path / "queries.toml"))
    assert mapped.errors == expected.errors == []
    assert ordered(mapped.document) == ordered(expected.document)


def test_without_the_case_the_localised_type_is_an_ordinary_one(tmp_path):
    localised = database(tmp_path / "localised.db", localised=True)
    unmapped = read(f"sqlite:///{localised}", EXAMPLE / "queries.toml")
    types = {
        contact_type.id
        for customer in unmapped.document.customers
        for contact_type in customer.contact_types
    }
    assert "Kunde" in types
