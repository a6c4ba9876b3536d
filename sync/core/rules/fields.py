"""A parsed record read tolerantly, one field at a time, as its model would read it (pure).

A record that fails its model still says what it can: a person whose last
name is missing still says which customer it belongs to and whether its
account is enabled. Each reader returns None when its field cannot be read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import ConfigDict, TypeAdapter, ValidationError

from sync.core.model import Identifier, Name

_BOOL = TypeAdapter(bool)
_ID = TypeAdapter(Identifier, config=ConfigDict(coerce_numbers_to_str=True))
_NAME = TypeAdapter(Name)


def flag(record: Mapping[str, Any], name: str, default: bool) -> bool | None:
    """Return a boolean field as the model would read it, or None when it cannot be read."""
    if name not in record:
        return default
    value = record[name]
    if value is True or value is False:
        return value
    try:
        return _BOOL.validate_python(value)
    except ValidationError:
        return None


def ident(value: Any) -> str | None:
    """Return an id as the model would read it, or None when it cannot be read."""
    plain = type(value) is str and 0 < len(value) <= 256 and value.isprintable()
    if plain and value == value.strip():
        return str(value)
    try:
        return _ID.validate_python(value)
    except ValidationError:
        return None


def reference(record: Mapping[str, Any], name: str) -> str | None:
    """Return the id a reference field names, or None when it is absent or unreadable."""
    value = record.get(name)
    return ident(value) if value is not None else None


def dicts(value: Any) -> Iterator[Mapping[str, Any]]:
    """Yield the records of a parsed list (nothing when it is not a list)."""
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, dict))


def roles(value: Any) -> list[str] | None:
    """Return the role names of an internal user, or None when one cannot be read."""
    if not isinstance(value, list):
        return None
    names = []
    for item in value:
        try:
            names.append(_NAME.validate_python(item))
        except ValidationError:
            return None
    return names


FIELDS_READ = frozenset(
    (
        "account",
        "agency",
        "customer",
        "enabled",
        "groups",
        "id",
        "persons",
        "portal_visible",
        "remote_access",
    )
)
"""Every field of a parsed record the verdicts read; the others may be dropped before."""


def keep_fields_read(record: Any) -> None:
    """Drop, in place, every field of a parsed record (and its parts) the verdicts ignore.

    A large document's parsed records are kept until the verdicts are made;
    without their names, e-mails and phones they take a fraction of the memory.
    """
    if isinstance(record, dict):
        for name in [name for name in record if name not in FIELDS_READ]:
            del record[name]
        for value in record.values():
            keep_fields_read(value)
    elif isinstance(record, list):
        for value in record:
            keep_fields_read(value)
