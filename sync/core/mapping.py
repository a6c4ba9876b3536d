"""Declarative attribute mappings, one TOML file per directory flavour (parsing, pure).

The code only interprets a mapping: object classes, naming attribute, the
identity attribute and a template per attribute. An Active Directory or
389-DS mapping is another file, not another code path; `sync.ldap.flavour`
reads the files.
"""

from __future__ import annotations

import hashlib
import json
import string
import tomllib
from collections import ChainMap
from collections.abc import Mapping as AbstractMapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sync.core.entry import Attributes, EntryKey, Kind
from sync.core.fitting import refused_in, shorten, units
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
        self.fields: frozenset[str] = frozenset(
            name for _, name, _, _ in string.Formatter().parse(text) if name is not None
        )
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


class _Refused(BaseModel):
    model_config = ConfigDict(extra="forbid")
    characters: str = ""
    last: str = ""


class _KindSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    object_classes: list[str] = Field(min_length=1)
    rdn: str
    members: str | None = None
    customer_attribute: str | None = None
    agency_attribute: str | None = None
    attributes: dict[str, str | list[str]]
    disabled: dict[str, str | list[str]] = Field(default_factory=dict)
    max_length: dict[str, int] = Field(default_factory=dict)
    refused: dict[str, _Refused] = Field(default_factory=dict)

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
    values: dict[str, str] = Field(default_factory=dict)
    integers: dict[str, Literal[32, 64]] = Field(default_factory=dict)
    logins: _Logins = Field(default_factory=_Logins)


def integer_form(value: str, bits: int) -> str | None:
    """Return an integer the way a server of `bits`-bit signed integers answers it, or None.

    AD keeps `groupType` as a signed 32-bit integer: "2147483650" is read back
    as "-2147483646". None when the value is no integer or out of range.
    """
    try:
        number = int(value.strip())
    except ValueError:
        return None
    if not -(1 << (bits - 1)) <= number < (1 << bits):
        return None
    if number >= 1 << (bits - 1):
        number -= 1 << bits
    return str(number)


class KindMapping:
    """How entries of one kind look in the directory."""

    def __init__(
        self,
        kind: Kind,
        spec: _KindSpec,
        flavour: str = "",
        values: AbstractMapping[str, str] | None = None,
        integers: AbstractMapping[str, int] | None = None,
    ) -> None:
        self.kind = kind
        self.flavour = flavour
        self.object_classes = tuple(spec.object_classes)
        self.rdn = spec.rdn.lower()
        self.members = spec.members.lower() if spec.members else None
        self.values = dict(values or {})
        """The values the mapping leaves open, as the settings set them ({upn_suffix})."""
        self.integers = {name.lower(): bits for name, bits in (integers or {}).items()}
        fields = FIELDS[kind] | frozenset(self.values)
        self.templates: dict[str, tuple[Template, ...]] = {}
        self.spelling: dict[str, str] = {}
        for name, value in spec.attributes.items():
            texts = [value] if isinstance(value, str) else value
            where = f"kinds.{kind.value}.attributes.{name}"
            self.templates[name.lower()] = tuple(Template(t, fields, where) for t in texts)
            self.spelling[name.lower()] = name
            bits = self.integers.get(name.lower(), 0)
            for text in texts if bits else ():
                if not Template(text, fields, where).fields and integer_form(text, bits) is None:
                    raise MappingError(
                        f"{where}: {text!r} is no {bits}-bit integer (the [integers] table "
                        f"says {name} holds one; AD takes -{1 << (bits - 1)} to {(1 << bits) - 1})"
                    )
        self.customer_attribute = self._mapped(spec.customer_attribute, "customer_attribute")
        """The attribute of an order group that holds the order's customer ID, or None."""
        self.agency_attribute = self._mapped(spec.agency_attribute, "agency_attribute")
        """The attribute of an order group that holds its agency's ID, or None."""
        self.disabled: dict[str, tuple[str, ...]] = {}
        for name, value in spec.disabled.items():
            if name.lower() not in self.templates or name.lower() == self.rdn:
                raise MappingError(
                    f"kinds.{kind.value}.disabled.{name}: only a mapped, non-naming attribute "
                    "can take another value while disabled (it is restored from the mapping)"
                )
            texts = [value] if isinstance(value, str) else value
            where = f"kinds.{kind.value}.disabled.{name}"
            texts = [Template(t, frozenset(), where).text for t in texts]
            self.disabled[name.lower()] = self._integers(name.lower(), tuple(texts))
        self.max_length: dict[str, int] = {}
        for name, limit in spec.max_length.items():
            if name.lower() not in self.templates or limit < 1:
                raise MappingError(
                    f"kinds.{kind.value}.max_length.{name}: only a mapped attribute takes a "
                    "length limit, and it is at least 1"
                )
            self.max_length[name.lower()] = limit
        self.refused: dict[str, tuple[str, str]] = {}
        for name, refused in spec.refused.items():
            if name.lower() not in self.templates:
                raise MappingError(
                    f"kinds.{kind.value}.refused.{name}: only a mapped attribute refuses characters"
                )
            self.refused[name.lower()] = (refused.characters, refused.last)
        self.fixed = frozenset(
            name
            for name, templates in self.templates.items()
            if any("login" in template.fields for template in templates)
        )
        """Attributes made from the login: never shortened (the person logs in with it)."""
        self._rendering = tuple(
            (name, tuple(template.text for template in templates), self.integers.get(name, 0))
            for name, templates in self.templates.items()
        )
        """Each attribute's template texts and integer width, as `render` reads them."""
        if kind.is_group and self.disabled:
            raise MappingError(f"kinds.{kind.value}: groups are deleted, never disabled")
        if self.rdn not in self.templates:
            raise MappingError(f"kinds.{kind.value}: the naming attribute {spec.rdn} is not mapped")
        if kind.is_group and not self.members:
            raise MappingError(f"kinds.{kind.value}: a group kind names its members attribute")

    def render_disabled(self) -> Attributes:
        """Return the attribute values a disabled user takes (e.g. userAccountControl 514)."""
        return dict(self.disabled)

    def _mapped(self, name: str | None, key: str) -> str | None:
        if name is None:
            return None
        if self.kind is not Kind.ORDER or name.lower() not in self.templates:
            raise MappingError(
                f"kinds.{self.kind.value}.{key}: only the order kind names it, and it names "
                "one of its mapped attributes"
            )
        return name.lower()

    def _integers(self, name: str, values: tuple[str, ...]) -> tuple[str, ...]:
        bits = self.integers.get(name)
        if not bits:
            return values
        return tuple(dict.fromkeys(integer_form(value, bits) or value for value in values))

    def unfit(self, attributes: Attributes) -> str | None:
        """Return why a value made from the login cannot be written, or None.

        A login is never shortened (the person logs in with it): a value made
        from it that is too long, or holds a character the directory refuses
        there, is a record error naming the limit.
        """
        for name in sorted(self.fixed):
            spelt = self.spelling[name]
            for value in attributes.get(name, ()):
                characters, last = self.refused.get(name, ("", ""))
                refused = refused_in(value, characters, last)
                if refused:
                    named = ", ".join(repr(char) for char in refused)
                    final = f", nor a final {' or '.join(map(repr, last))}" if last else ""
                    return (
                        f"its {spelt} {value!r} holds {named}: the {self.flavour} mapping "
                        f"refuses {' '.join(characters)} there{final}. Change the login in "
                        "the source"
                    )
                limit = self.max_length.get(name)
                if limit is not None and units(value) > limit:
                    return (
                        f"its {spelt} {value!r} has {units(value)} characters; the "
                        f"{self.flavour} mapping allows at most {limit} (a login is never "
                        "shortened: the person logs in with it). Shorten the login in the source"
                    )
        return None

    def fit(self, attributes: Attributes) -> Attributes:
        """Return the attributes with every value not made from the login fitted to its limit."""
        fitted = dict(attributes)
        for name, limit in self.max_length.items():
            if name not in self.fixed and name in fitted:
                values = (shorten(value, limit) for value in fitted[name])
                fitted[name] = tuple(dict.fromkeys(values))
        return fitted

    def render(self, context: AbstractMapping[str, str]) -> Attributes:
        """Return every mapped attribute for one record; unset ones hold no value.

        This runs once per entry (113,000 times at size M), so it formats the
        template texts directly, and an attribute with one template and no
        integer form takes the short way (docs/performance.md).
        """
        if self.values:
            context = ChainMap(self.values, context)  # type: ignore[arg-type]  # read only
        attributes: Attributes = {}
        for name, texts, bits in self._rendering:
            if len(texts) == 1:
                value = texts[0].format_map(context).strip()
                kept: tuple[str, ...] = (value,) if value else ()
            else:
                values = (text.format_map(context).strip() for text in texts)
                kept = tuple(dict.fromkeys(value for value in values if value))
            attributes[name] = self._integers(name, kept) if bits else kept
        return attributes


class Mapping:
    """A whole directory flavour's mapping."""

    def __init__(
        self, spec: _MappingFile, origin: str, values: AbstractMapping[str, str] | None = None
    ) -> None:
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
        given = dict(values or {})
        unknown = sorted(set(given) - set(spec.values))
        if unknown:
            takes = ", ".join(sorted(spec.values)) or "none"
            raise MappingError(
                f"{origin}: mapping.values names no value named {unknown[0]} of this mapping "
                f"(it takes: {takes})"
            )
        self.values = {**spec.values, **{k: v for k, v in given.items() if v}}
        """The values the mapping leaves open ([values]), with those the settings set."""
        self.shape = spec.model_dump_json() + json.dumps(self.values, sort_keys=True)
        """Everything of the mapping that shapes the entries: the file and the values set."""
        unset = sorted(name for name, value in self.values.items() if not value.strip())
        if unset:
            raise MappingError(
                f"{origin} leaves {unset[0]} open: set mapping.values.{unset[0]} "
                f"(PORTAL_SYNC_MAPPING__VALUES__{unset[0].upper()}) in the settings"
            )
        self.kinds = {
            kind: KindMapping(kind, kind_spec, spec.flavour, self.values, spec.integers)
            for kind, kind_spec in spec.kinds.items()
        }
        order = self.kinds[Kind.ORDER]
        self.order_customer = order.customer_attribute
        """The attribute of an order group holding the order's customer ID (None: not kept)."""
        self.order_agency = order.agency_attribute
        """The attribute of an order group holding its agency's ID (None: not kept)."""
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


def parse_mapping(
    text: str, origin: str, values: AbstractMapping[str, str] | None = None
) -> Mapping:
    """Return the mapping in a TOML text, with the open values the settings give."""
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
    return Mapping(spec, origin, values)
