"""The queries file of the SQL source: one SELECT per kind of record, columns named as fields.

The administrator writes these against the workflow system's own schema;
each query returns columns named after the fields of the source format
(docs/source-format.md), plus the id that joins its rows to their parent
(a person's `customer`, a role's `internal_user`). What the file must hold
is checked when it is read, before the database is asked anything.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from sync.errors import ConfigurationError


@dataclass(frozen=True)
class Shape:
    """The columns one query may return: those it must, and those it may."""

    record: str
    """What one row is, in words ("customer", "account of a person")."""
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        """Return every column the query may return."""
        return self.required + self.optional


SHAPES: dict[str, Shape] = {
    "customers": Shape("customer", ("id", "name"), ("nickname", "remote_access", "agency")),
    "contact_types": Shape("contact type", ("customer", "id"), ("name",)),
    "persons": Shape(
        "person",
        ("customer", "id", "last_name"),
        ("first_name", "email", "phone", "mobile", "fax", "web"),
    ),
    "person_contact_types": Shape("contact type of a person", ("person", "contact_type")),
    "accounts": Shape("portal account", ("person", "login"), ("enabled", "password_hash")),
    "internal_users": Shape(
        "internal user",
        ("id", "login", "last_name"),
        ("first_name", "email", "phone", "enabled", "password_hash"),
    ),
    "roles": Shape("role of an internal user", ("internal_user", "role")),
    "orders": Shape("order", ("id", "customer"), ("name", "agency", "portal_visible")),
}
"""Each query of the file, in the order a run reads them, and its columns."""

CHANGE = "change"
"""The optional query the daemon polls: any result that differs from the last one is a change."""


@dataclass(frozen=True)
class Queries:
    """The SELECTs of a queries file, by name, and the change query when there is one."""

    origin: str
    selects: dict[str, str]
    change: str = ""


def read_queries(path: Path, setting: str = "source.sql.queries") -> Queries:
    """Return the queries in a TOML file; raise ConfigurationError naming what is missing."""
    try:
        with path.open("rb") as stream:
            data = tomllib.load(stream)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"the queries file {path} is not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read the queries file {path} ({setting}): {exc.strerror}"
        ) from exc
    return parse_queries(data, str(path))


def parse_queries(data: dict[str, object], origin: str) -> Queries:
    """Return the queries of a parsed queries file; raise ConfigurationError naming the problem."""
    problems = []
    for name, value in data.items():
        if name not in SHAPES and name != CHANGE:
            known = ", ".join([*SHAPES, CHANGE])
            problems.append(f"{name!r} is no query of the SQL source (known: {known})")
        elif not isinstance(value, str) or not value.strip():
            problems.append(f"{name}: must be the text of a SELECT")
    missing = [name for name in SHAPES if name not in data]
    if missing:
        problems.append(
            f"missing: {', '.join(missing)} (every kind needs its query; one that has no rows "
            "in this shop selects none, e.g. ... WHERE 1 = 0)"
        )
    if problems:
        raise ConfigurationError(f"the queries file {origin}:\n  " + "\n  ".join(problems))
    selects = {name: str(data[name]) for name in SHAPES}
    change = data.get(CHANGE, "")
    return Queries(origin, selects, str(change))
