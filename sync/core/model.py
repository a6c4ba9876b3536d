"""The source document, format version 1: the print shop's customer structure.

These models are the contract of the source document and the origin of its
JSON Schema (`portal-sync schema`). Unknown fields are ignored, so a newer
workflow export with extra fields still reads.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

FORMAT_VERSION = 1
BUILTIN_CONTACT_TYPE = "customer"


_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
"""Unicode's categories Cc (control) and Cs (surrogate), exactly: one C-speed search per value."""


def _printable(value: str) -> str:
    """Refuse control characters (NUL, line breaks...) and lone surrogates."""
    if _UNPRINTABLE.search(value):
        raise ValueError("the value contains control characters")
    return value


def _trimmed(value: str) -> str:
    """Refuse surrounding spaces in ids and logins: the directory would match them loosely."""
    if value != value.strip():
        raise ValueError("the value has leading or trailing spaces")
    return value


Text = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=1024), AfterValidator(_printable)
]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=1024),
    AfterValidator(_printable),
]


def _email(value: str) -> str:
    """Refuse an e-mail address the directory's mail attribute (IA5 string) cannot hold."""
    if value and (not value.isascii() or " " in value or "@" not in value):
        raise ValueError("not an e-mail address the directory can hold (ASCII, with @, no spaces)")
    return value


Email = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=256), AfterValidator(_email)
]
Identifier = Annotated[
    str,
    StringConstraints(min_length=1, max_length=256),
    AfterValidator(_printable),
    AfterValidator(_trimmed),
]
Login = Identifier

_HASH = re.compile(r"\{([A-Za-z0-9.-]+)\}\S+")


def _password_hash(value: str) -> str:
    """Check that a source password is a hash with an LDAP scheme prefix, never cleartext."""
    match = _HASH.fullmatch(value)
    if match is None:
        raise ValueError("must be a hash with a scheme prefix such as {SSHA}, {CRYPT} or {ARGON2}")
    if match.group(1).upper() == "CLEARTEXT":
        raise ValueError("must be a hash, not {CLEARTEXT}")
    return value


PasswordHash = Annotated[str, StringConstraints(max_length=1024), AfterValidator(_password_hash)]


class Record(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=True)


class Account(Record):
    """The portal account of a contact person."""

    login: Login
    enabled: bool = True
    password_hash: PasswordHash | None = Field(default=None, repr=False)
    """The account's password hash, written when passwords.external is source-hash."""


class ContactType(Record):
    """An area of a customer's company (purchasing, accounting...)."""

    id: Identifier
    name: Text = ""


class Person(Record):
    """A contact person of a customer; belongs to at least one contact type."""

    id: Identifier
    first_name: Text = ""
    last_name: Name
    email: Email = ""
    phone: Text = ""
    mobile: Text = ""
    fax: Text = ""
    web: Text = ""
    contact_types: list[Identifier] = Field(min_length=1)
    account: Account | None = None


class Customer(Record):
    """A customer company; with `remote_access` it is set up for the portal."""

    id: Identifier
    name: Name
    nickname: Text = ""
    remote_access: bool = False
    agency: bool = False
    contact_types: list[ContactType] = Field(default_factory=list)
    persons: list[Person] = Field(default_factory=list)


class InternalUser(Record):
    """A member of the print shop's own staff."""

    id: Identifier
    login: Login
    first_name: Text = ""
    last_name: Name
    email: Email = ""
    phone: Text = ""
    groups: list[Name] = Field(default_factory=list)
    enabled: bool = True
    password_hash: PasswordHash | None = Field(default=None, repr=False)
    """The user's password hash, written when passwords.internal is source-hash."""


class Order(Record):
    """A job; only orders visible on the portal get a group."""

    id: Identifier
    name: Text = ""
    customer: Identifier
    agency: Identifier | None = None
    portal_visible: bool = False


class Document(Record):
    """A whole source document."""

    format_version: Literal[1]
    internal_users: list[InternalUser] = Field(default_factory=list)
    customers: list[Customer] = Field(default_factory=list)
    orders: list[Order] = Field(default_factory=list)


def json_schema() -> dict[str, object]:
    """Return the JSON Schema of the source document."""
    schema = Document.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "portal-sync source document, format version 1"
    return schema
