"""Declarative attribute mappings, one TOML file per directory flavour (parsing, pure).

The code only interprets a mapping: object classes, naming attribute, the
identity attribute and a template per attribute. An Active Directory or
389-DS mapping is another file, not another code path; `sync.ldap.flavour`
reads the files.
"""

from __future__ import annotations

import hashlib
import string
import tomllib
from collections.abc import Mapping as AbstractMapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sync.core.entry import Attributes, EntryKey, Kind
from sync.errors import ConfigurationError

FIELDS: dict[Kind, frozenset[str]] = {
    Kind.INTERNAL: frozenset(
        {"id", "login", "first_name", "last_name", "email", "phone", "groups"}
    ),
    Kind.EXTERNAL: frozenset(
        {
            "id",
            "login",
            "first_name",
            "last_name",
            "email",
            "phone",
            "mobile",
            "fax",
            "web",
            "customer_id",
            "customer_name",
            "customer_nickname",
            "contact_types",
        }
    ),
    Kind.CUSTOMER: frozenset({"id", "name", "nickname", "group_name"}),
    Kind.ORDER: frozenset(
        {
            "id",
            "name",
            "customer_id",
            "customer_name",
            "agency_id",
            "agency_name",
            "agency_note",
            "group_name",
        }
    ),
    Kind.ROLE: frozenset({"name", "group_name"}),
}


class MappingError(ConfigurationError):
    """The mapping file is missing or wrong; the run stops before any change."""


class Template:
    """One attribute value template, checked against the fields of its kind when loaded."""

    def __init__(self, text: str, fields: frozenset[str], where: str) -> None:
        self.text = text
        for _, name, spec, conversion in string.Formatter().parse(text):
            if name is None:
                continue
            if name not in fields:
                raise MappingError(
                    f"{where}: unknown field {{{name}}}; known: {', '.join(sorted(fields))}"
                )
            if spec or conversion:
                raise MappingError(f"{where}: {{{name}}} takes no format spec or conversion")

    def render(self, context: AbstractMapping[str, str]) -> str:
        """Return the value for one record, stripped of surrounding spaces."""
        return self.text.format_map(context).strip()


class _Identity(BaseModel):
    model_config = ConfigDict(extra="forbid")
    attribute: str
    prefix: str = Field(min_length=1)


class _Container(BaseModel):
    model_config = ConfigDict(extra="forbid")
    object_classes: list[str] = Field(min_length=1)


class _KindSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    object_classes: list[str] = Field(min_length=1)
    rdn: str
    members: str | None = None
    attributes: dict[str, str | list[str]]
    disabled: dict[str, str | list[str]] = Field(default_factory=dict)
    max_length: dict[str, int] = Field(default_factory=dict)

    @field_validator("attributes")
    @classmethod
    def _not_empty(cls, value: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        if not value:
            raise ValueError("a kind maps at least its naming attribute")
        return value


class _Passwords(BaseModel):
    model_config = ConfigDict(extra="forbid")
    write: Literal["password-modify", "unicodePwd"] = "password-modify"
    source_hash: bool = True


class _Logins(BaseModel):
    model_config = ConfigDict(extra="forbid")
    released: dict[str, str] = Field(default_factory=dict)
    kept_in: str | None = None


class _MappingFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    flavour: str
    identity: _Identity
    container: _Container
    kinds: dict[Kind, _KindSpec]
    passwords: _Passwords = Field(default_factory=_Passwords)
    logins: _Logins = Field(default_factory=_Logins)


class KindMapping:
    """How entries of one kind look in the directory."""

    def __init__(self, kind: Kind, spec: _KindSpec) -> None:
        self.kind = kind
        self.object_classes = tuple(spec.object_classes)
        self.rdn = spec.rdn.lower()
        self.members = spec.members.lower() if spec.members else None
        fields = FIELDS[kind]
        self.templates: dict[str, tuple[Template, ...]] = {}
        for name, value in spec.attributes.items():
            texts = [value] if isinstance(value, str) else value
            where = f"kinds.{kind.value}.attributes.{name}"
            self.templates[name.lower()] = tuple(Template(t, fields, where) for t in texts)
        self.disabled: dict[str, tuple[str, ...]] = {}
        for name, value in spec.disabled.items():
            if name.lower() not in self.templates or name.lower() == self.rdn:
                raise MappingError(
                    f"kinds.{kind.value}.disabled.{name}: only a mapped, non-naming attribute "
                    "can take another value while disabled (it is restored from the mapping)"
                )
            texts = [value] if isinstance(value, str) else value
            where = f"kinds.{kind.value}.disabled.{name}"
            self.disabled[name.lower()] = tuple(Template(t, frozenset(), where).text for t in texts)
        self.max_length: dict[str, int] = {}
        for name, limit in spec.max_length.items():
            if name.lower() not in self.templates or limit < 1:
                raise MappingError(
                    f"kinds.{kind.value}.max_length.{name}: only a mapped attribute takes a "
                    "length limit, and it is at least 1"
                )
            self.max_length[name.lower()] = limit
        if kind.is_group and self.disabled:
            raise MappingError(f"kinds.{kind.value}: groups are deleted, never disabled")
        if self.rdn not in self.templates:
            raise MappingError(f"kinds.{kind.value}: the naming attribute {spec.rdn} is not mapped")
        if kind.is_group and not self.members:
            raise MappingError(f"kinds.{kind.value}: a group kind names its members attribute")

    def render_disabled(self) -> Attributes:
        """Return the attribute values a disabled user takes (e.g. userAccountControl 514)."""
        return dict(self.disabled)

    def too_long(self, attributes: Attributes) -> tuple[str, str, int] | None:
        """Return (attribute, value, limit) of the first value longer than the mapping allows."""
        for name, limit in self.max_length.items():
            for value in attributes.get(name, ()):
                if len(value) > limit:
                    return name, value, limit
        return None

    def render(self, context: AbstractMapping[str, str]) -> Attributes:
        """Return every mapped attribute for one record; unset ones hold no value."""
        attributes: Attributes = {}
        for name, templates in self.templates.items():
            values = (template.render(context) for template in templates)
            attributes[name] = tuple(dict.fromkeys(value for value in values if value))
        return attributes


class Mapping:
    """A whole directory flavour's mapping."""

    def __init__(self, spec: _MappingFile, origin: str) -> None:
        self.origin = origin
        self.flavour = spec.flavour
        self.identity_attribute = spec.identity.attribute.lower()
        self.identity_prefix = spec.identity.prefix
        self.container_classes = tuple(spec.container.object_classes)
        self.password_write = spec.passwords.write
        """How a cleartext password is set: the Password Modify operation, or AD's unicodePwd."""
        self.takes_source_hash = spec.passwords.source_hash
        """Whether the directory stores a foreign password hash as given (AD does not)."""
        missing = set(Kind) - set(spec.kinds)
        if missing:
            names = ", ".join(sorted(kind.value for kind in missing))
            raise MappingError(f"{origin}: no mapping for kind(s) {names}")
        self.kinds = {kind: KindMapping(kind, kind_spec) for kind, kind_spec in spec.kinds.items()}
        self.released: dict[str, str] = {}
        """Attributes the directory keeps unique domain-wide, the disabled OU included (AD's
        sAMAccountName, userPrincipalName) -> the value they take while a user's login is free:
        a text where `{parked}` stands for `parked(key)`, or "" for no value."""
        for name, text in spec.logins.released.items():
            Template(text, frozenset({"parked"}), f"logins.released.{name}")
            self.released[name.lower()] = text
        self.kept_in = spec.logins.kept_in.lower() if spec.logins.kept_in else None
        """The attribute where a disabled user keeps its login while it is released."""
        if self.released and not self.kept_in:
            raise MappingError(
                f"{origin}: logins.kept_in: a mapping that releases logins names the attribute "
                "where a disabled user keeps its login"
            )

    def identity_value(self, key: str) -> str:
        """Return the identity attribute's value for an entry key."""
        return f"{self.identity_prefix}{key}"

    def key_of(self, identity_value: str) -> str | None:
        """Return the entry key in an identity value, or None when the value is not ours."""
        if not identity_value.startswith(self.identity_prefix):
            return None
        return EntryKey.parse(identity_value[len(self.identity_prefix) :])

    def key_in(self, attributes: Attributes) -> str | None:
        """Return the key an entry's identity attribute carries (its first of ours), or None."""
        for value in attributes.get(self.identity_attribute, ()):
            key = self.key_of(value)
            if key is not None:
                return key
        return None

    def released_values(self, key: str) -> Attributes:
        """Return the values the unique login attributes of the user with `key` take while free."""
        token = parked(key)
        return {
            name: (text.replace("{parked}", token),) if text else ()
            for name, text in self.released.items()
        }

    def attributes_read(self) -> tuple[str, ...]:
        """Return every attribute a run needs to read from managed entries."""
        names = {self.identity_attribute}
        if self.kept_in:
            names.add(self.kept_in)
        for kind_mapping in self.kinds.values():
            names.update(kind_mapping.templates)
            if kind_mapping.members:
                names.add(kind_mapping.members)
        return tuple(sorted(names))


def parked(key: str) -> str:
    """Return a short name only the entry with this key takes while its login is free.

    "ps-" and 12 hex digits of the key's SHA-256: 15 characters, within AD's
    20 for a sAMAccountName, and the same on every run.
    """
    return "ps-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


def parse_mapping(text: str, origin: str) -> Mapping:
    """Return the mapping in a TOML text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{origin}: not valid TOML: {exc}") from exc
    try:
        spec = _MappingFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise MappingError(f"{origin}: {where}: {first['msg']}") from exc
    return Mapping(spec, origin)
