"""Settings: environment (PORTAL_SYNC_*, `__` between groups), a TOML file, `.env`, secrets.

Precedence, highest first: values passed in code, environment variables,
`.env`, the secrets directory (one file per setting, e.g. `ldap__bind_password`),
the TOML file (`--config FILE` or PORTAL_SYNC_CONFIG), then the defaults below.

A relative path written in the TOML file is read from the file's folder, so a
daemon started from `/` finds the queries file next to its settings; any
other relative path (a variable, `.env`, a secret, a default) is read from the
working directory. Either way the settings hold the absolute path, so every
message about a missing file names the file that was looked for.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from datetime import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar, get_args

from dotenv import dotenv_values
from pydantic import (
    BaseModel,
    ByteSize,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NestedSecretsSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from sync.core.grants import AccessRules
from sync.core.guard import SafetySettings
from sync.core.tree import Layout, Tree
from sync.errors import ConfigurationError
from sync.origins import (
    NOT_SETTINGS,
    PREFIX,
    Names,
    Origins,
    SettingGroup,
    flattened,
    in_file,
    known,
    setting_path,
    unknown_in_file,
    unknown_secrets,
    unknown_variables,
)
from sync.sources.kind import SourceKind
from sync.sources.kinds import KINDS
from sync.targets.scim.settings import ScimSettings


class LdapSettings(SettingGroup):
    """How to reach and bind to the directory."""

    group = "ldap"
    model_config = ConfigDict(extra="forbid")

    url: str = "ldap://localhost:389"
    """Server URL, ldap:// or ldaps://; or several (a TOML list, or separated by commas or
    spaces): the providers of one replicated directory, used first reachable in this order
    (docs/replication.md); default ldap://localhost:389."""
    bind_dn: str = ""
    """DN of the service account the sync binds as; empty binds anonymously."""
    bind_password: SecretStr = SecretStr("")
    """Password of the service account; never printed."""
    base_dn: str = "dc=example,dc=org"
    """Base DN under which the layout's OUs live; it must exist."""
    timeout: float = Field(default=10.0, gt=0)
    """Seconds to wait for a connection or an answer; default 10."""
    page_size: int = Field(default=500, ge=1, le=10000)
    """Entries per page of the paged search of managed entries; default 500."""
    start_tls: bool = False
    """Upgrade an ldap:// connection with StartTLS before binding; default off (ldaps:// is TLS)."""
    ca_file: Path | None = None
    """PEM bundle of the CAs that may sign the server certificate; default the system's CAs."""
    tls_verify: bool = True
    """Validate the server certificate and host name; default on. Turn off only to diagnose."""
    tls_name: str = ""
    """Host name the server's TLS certificate must hold when it is not the one in url (e.g.
    Samba's DC1.<realm>); default: the URL's host only. Validation stays on."""
    client_cert_file: Path | None = None
    """PEM client certificate presented to the server (optional, with client_key_file)."""
    client_key_file: Path | None = None
    """PEM private key of the client certificate (optional)."""

    @model_validator(mode="after")
    def _client_pair(self) -> LdapSettings:
        if (self.client_cert_file is None) != (self.client_key_file is None):
            raise ValueError("client_cert_file and client_key_file go together")
        return self

    @field_validator("url", mode="before")
    @classmethod
    def _url_list(cls, value: Any) -> Any:
        """Accept a list of server URLs (TOML) as the text form: URLs separated by commas."""
        if isinstance(value, list | tuple):
            return ", ".join(str(item).strip() for item in value)
        return value

    @field_validator("url")
    @classmethod
    def _urls_alike(cls, value: str) -> str:
        urls = split_urls(value)
        if not urls:
            raise ValueError("give at least one server URL")
        if len({url.lower().startswith("ldaps://") for url in urls}) > 1:
            raise ValueError(
                "the servers of the list mix ldap:// and ldaps://: use one scheme for all"
            )
        if len({url.lower() for url in urls}) < len(urls):
            raise ValueError("a server appears twice in the list")
        return value

    @property
    def urls(self) -> tuple[str, ...]:
        """Return the server URLs in the order given: one, or the providers of a replica set."""
        return split_urls(self.url)

    @property
    def uses_tls(self) -> bool:
        """Return whether the connection is encrypted (ldaps:// or StartTLS)."""
        return self.start_tls or self.url.lower().startswith("ldaps://")


def split_urls(value: str) -> tuple[str, ...]:
    """Return the server URLs in `value`, separated by commas or white space."""
    return tuple(part for part in re.split(r"[\s,]+", value.strip()) if part)


G = TypeVar("G", bound=SettingGroup)


class SourceGroup(SettingGroup):
    """Where the customer structure comes from: the settings every kind of source shares.

    `SourceSettings` adds, from the table of kinds (`sync.sources.kinds`),
    `source.kind` naming one of them and a sub-group per kind that has one
    (`source.sql`, `source.http`).
    """

    group = "source"
    model_config = ConfigDict(extra="forbid")
    kinds: ClassVar[Mapping[str, SourceKind]] = {}

    kind: str = "file"
    """Which reader: the document file (path), a SQL database ([source.sql]) or HTTP(S)
    ([source.http]); default file."""
    path: Path = Path("customers.json")
    """Path of the source document (JSON, or YAML with .yaml/.yml); default customers.json."""
    max_size: ByteSize = ByteSize(512 * 1024**2)
    """Largest source document read, in bytes or with a unit ("512MiB", "2GB"); a larger file
    is refused before it is parsed (an HTTP answer too); default 512MiB."""

    def own(self, group: type[G]) -> G:
        """Return the group of the selected kind (`source.sql` when kind is "sql")."""
        found = getattr(self, self.kind, None)
        if not isinstance(found, group):
            raise TypeError(f"source.{self.kind} is no {group.__name__}")
        return found

    @model_validator(mode="after")
    def _kind_is_set_up(self) -> SourceGroup:
        kind = type(self).kinds.get(self.kind)
        problem = kind.unready(self) if kind is not None else ""
        if problem:
            raise ValueError(problem)
        return self


def source_settings(kinds: Mapping[str, SourceKind]) -> type[SourceGroup]:
    """Return the `source` group for these kinds: `kind` names one, each has its sub-group."""
    names = tuple(kinds)
    one_of: Any = Literal
    groups: dict[str, Any] = {
        name: (kind.settings, Field(default_factory=kind.settings, description=kind.__doc__))
        for name, kind in kinds.items()
        if kind.settings is not None
    }
    model = create_model(
        "SourceSettings",
        __base__=SourceGroup,
        __module__=__name__,
        __doc__=SourceGroup.__doc__,
        kind=(one_of[names], Field(default=names[0])),
        **groups,
    )
    model.kinds = dict(kinds)
    return model


if TYPE_CHECKING:
    SourceSettings = SourceGroup
else:
    SourceSettings = source_settings(KINDS)
    """The `source` group of the kinds in the table."""


class MappingSettings(SettingGroup):
    """Which attribute mapping to apply."""

    group = "mapping"
    model_config = ConfigDict(extra="forbid")

    path: str = "openldap"
    """A shipped flavour name (openldap) or the path of a mapping TOML file; default openldap."""
    values: dict[str, str] = Field(default_factory=dict)
    """The values the mapping leaves open, e.g. {upn_suffix = "corp.example"}; default none."""


class ScheduleSettings(SettingGroup):
    """When the daemon runs a sync."""

    group = "schedule"
    model_config = ConfigDict(extra="forbid")

    interval: float = Field(default=300.0, gt=0)
    """Seconds between two scheduled runs when no cron expression is set; default 300."""
    cron: str = ""
    """Crontab expression (five fields, host's local time) replacing the interval; default none."""
    misfire_grace: float = Field(default=60.0, gt=0)
    """Seconds a scheduled run may start late before it is dropped for the next one; default 60."""
    watch_interval: float = Field(default=0.5, ge=0)
    """Seconds between two looks at the source file for changes; 0 turns it off; default 0.5."""
    retry_initial: float = Field(default=2.0, gt=0)
    """Seconds before the first retry after a failed run, doubled per failure; default 2."""
    retry_max: float = Field(default=300.0, gt=0)
    """Cap of the retry delay in seconds; default 300."""
    shutdown_timeout: float = Field(default=30.0, gt=0)
    """Seconds SIGTERM/SIGINT waits for a run in progress before the daemon exits; default 30."""


class HttpSettings(SettingGroup):
    """The daemon's HTTP server: POST /sync, /healthz, /metrics."""

    group = "http"
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    """Whether the daemon serves HTTP at all; default true."""
    host: str = "127.0.0.1"
    """Address to listen on; default 127.0.0.1 (loopback only)."""
    port: int = Field(default=9468, ge=0, le=65535)
    """TCP port to listen on; default 9468."""
    token: SecretStr = SecretStr("")
    """Bearer token that POST /sync requires; empty refuses every POST /sync; never printed."""
    max_age: float = Field(default=900.0, gt=0)
    """Seconds after which the last successful run is too old and /healthz says 503; default 900."""


class LockSettings(SettingGroup):
    """The run lock: a file in the state directory and a lease entry in the directory."""

    group = "lock"
    model_config = ConfigDict(extra="forbid")

    wait: float = Field(default=60.0, ge=0)
    """Seconds a run waits for the lock held by another run before giving up; default 60."""
    lease: bool = True
    """Whether runs also take the lease stored in the directory (several hosts); default true."""
    lease_dn: str = ""
    """DN of the lease entry; default cn=portal-sync-lock under the base DN."""
    lease_seconds: float = Field(default=60.0, ge=1)
    """Seconds a lease lasts unless renewed (renewed every third of it); default 60."""


class LoggingSettings(SettingGroup):
    """What the service logs, and how."""

    group = "logging"
    model_config = ConfigDict(extra="forbid")

    level: str = ""
    """DEBUG, INFO, WARNING or ERROR; default INFO for the daemon, WARNING for other commands."""
    format: Literal["text", "json"] = "text"
    """text (one line per event) or json (one JSON object per line); default text."""
    progress_interval: float = Field(default=30.0, ge=0)
    """Seconds between two progress lines the daemon logs during a long run (stage, done of
    total, rate); 0 turns them off; default 30."""


class HistorySettings(SettingGroup):
    """The run reports kept in the state directory for `portal-sync status`."""

    group = "history"
    model_config = ConfigDict(extra="forbid")

    keep: int = Field(default=50, ge=1)
    """Number of run reports kept; default 50."""


class ConsoleSettings(SettingGroup):
    """The web console for the shop's staff, served by the daemon (docs/console.md)."""

    group = "console"
    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    """Whether the daemon serves the console; default false."""
    host: str = "127.0.0.1"
    """Address to listen on; default 127.0.0.1 (loopback only: put a TLS reverse proxy in front)."""
    port: int = Field(default=9469, ge=0, le=65535)
    """TCP port to listen on, apart from the HTTP endpoints; default 9469."""
    role_group: str = "Administrators"
    """Internal role group whose members may log in, checked on every request;
    default Administrators."""
    secret_key: SecretStr = SecretStr("")
    """Key that signs the session cookies; empty makes a random one at each start (everyone
    logs in again after a restart); never printed."""
    session_minutes: float = Field(default=30.0, gt=0)
    """Minutes without a request after which a session ends; default 30."""
    secure_cookie: bool = False
    """Send the session cookie over HTTPS only; set true behind a TLS reverse proxy;
    default false."""
    login_attempts: int = Field(default=5, ge=1)
    """Failed logins allowed per login name and per client address within login_window;
    default 5."""
    login_window: float = Field(default=900.0, gt=0)
    """Seconds over which failed logins are counted; default 900."""
    session_hours: float = Field(default=12.0, gt=0)
    """Hours after the login at which a session ends however much it is used; default 12."""
    refusal_seconds: float = Field(default=1.0, ge=0)
    """Seconds every refused login takes at least, whatever the reason; default 1."""
    ended_sessions: Path | None = None
    """File listing the sessions logged out before they expired; default
    console-ended-sessions.json in state_dir. Daemons sharing secret_key share this file."""


class PasswordMode(StrEnum):
    """Who sets the passwords of one kind of user."""

    SOURCE_HASH = "source-hash"
    INITIAL = "initial"
    NONE = "none"


class PasswordSettings(SettingGroup):
    """How the service sets user passwords (see docs/portal.md)."""

    group = "passwords"
    model_config = ConfigDict(extra="forbid")

    internal: PasswordMode = PasswordMode.NONE
    """Mode for internal users: source-hash, initial or none; default none."""
    external: PasswordMode = PasswordMode.NONE
    """Mode for external users: source-hash, initial or none; default none."""
    initial_file: Path | None = None
    """File that receives "login<TAB>password" per new account (mode 0600); default none."""
    initial_command: list[str] = Field(default_factory=list)
    """Command (no shell) run per new account with "login<TAB>password" on stdin; default none."""
    initial_length: int = Field(default=20, ge=12, le=128)
    """Length of a generated initial password in characters; default 20."""

    @model_validator(mode="after")
    def _channel(self) -> PasswordSettings:
        uses_initial = PasswordMode.INITIAL in (self.internal, self.external)
        if uses_initial and self.initial_file is None and not self.initial_command:
            raise ValueError(
                "mode initial needs a channel: set initial_file and/or initial_command"
            )
        return self


class PortalSettings(SettingGroup):
    """The portal's service account, used by `portal-sync access` and `portal-sync login`."""

    group = "portal"
    model_config = ConfigDict(extra="forbid")

    bind_dn: str = ""
    """DN of the portal's service account (searches users and groups); empty uses ldap.bind_dn."""
    bind_password: SecretStr = SecretStr("")
    """Password of the portal's service account; never printed."""


class PerformanceSettings(SettingGroup):
    """How a run writes and how much it reads: pipelining and incremental runs."""

    group = "performance"
    model_config = ConfigDict(extra="forbid")

    write_window: int = Field(default=64, ge=1, le=1024)
    """Changes in flight on the write connection at once; 1 writes one by one; default 64."""
    incremental: bool = True
    """Read and write only what changed since the last successful run (state in state_dir);
    default true. False makes every run a full reconciliation."""
    full_sync_at: time = time(3, 0)
    """Local time of day after which the day's first run is a full reconciliation against the
    directory (catches changes made there by hand); default 03:00, i.e. nightly."""


TargetKind = Literal["ldap", "scim"]
"""A kind of target (`sync.targets`)."""
_LDAP_ONLY: list[TargetKind] = ["ldap"]


def _default_state_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/portal-sync")
    return Path.home() / ".local" / "state" / "portal-sync"


class Settings(BaseSettings):
    """Every setting of portal-sync."""

    model_config = SettingsConfigDict(
        env_prefix="PORTAL_SYNC_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        secrets_prefix="",
        secrets_nested_delimiter="__",
        extra="ignore",
    )

    config_file: ClassVar[Path | None] = None
    _origins: Origins = PrivateAttr(default_factory=Origins)

    ldap: LdapSettings = LdapSettings()
    """Directory connection."""
    source: SourceSettings = SourceSettings()
    """Source document."""
    layout: Layout = Layout()
    """Directory layout and group names."""
    mapping: MappingSettings = MappingSettings()
    """Attribute mapping."""
    safety: SafetySettings = SafetySettings()
    """Deletion guard and retention of disabled users."""
    rules: AccessRules = AccessRules()
    """Access choices of the shop (agencies on orders of customers without remote access)."""
    passwords: PasswordSettings = PasswordSettings()
    """User passwords."""
    portal: PortalSettings = PortalSettings()
    """The portal's service account."""
    performance: PerformanceSettings = PerformanceSettings()
    """Pipelined writes and incremental runs."""
    state_dir: Path = Field(default_factory=lambda: _default_state_dir())
    """Directory for run history, locks and caches (PORTAL_SYNC_STATE_DIR);
    default /var/lib/portal-sync when running as root, else ~/.local/state/portal-sync."""
    schedule: ScheduleSettings = ScheduleSettings()
    """When the daemon runs."""
    http: HttpSettings = HttpSettings()
    """The daemon's HTTP server."""
    lock: LockSettings = LockSettings()
    """The run lock."""
    logging: LoggingSettings = LoggingSettings()
    """Logging."""
    history: HistorySettings = HistorySettings()
    """Run history."""
    console: ConsoleSettings = ConsoleSettings()
    """The web console for the shop's staff."""
    targets: list[TargetKind] = Field(default_factory=lambda: _LDAP_ONLY.copy(), min_length=1)
    """Where users and groups are pushed, in this order: "ldap", "scim" or both
    (PORTAL_SYNC_TARGETS='["ldap","scim"]'); each has its own state and lock; default ["ldap"]."""
    scim: ScimSettings = ScimSettings()
    """The SCIM 2.0 target (docs/scim.md)."""

    @field_validator("targets")
    @classmethod
    def _distinct_targets(cls, value: list[TargetKind]) -> list[TargetKind]:
        return list(dict.fromkeys(value))

    @property
    def tree(self) -> Tree:
        """Return where the managed entries live: the layout under the base DN."""
        return Tree(self.layout, self.ldap.base_dn)

    def name_of(self, setting: str) -> str:
        """Return where a setting ("ldap.base_dn", "state_dir") was set, or where it can be."""
        return self._origins.name(tuple(setting.split(".")))

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [
            init_settings,
            env_settings,
            dotenv_settings,
            NestedSecretsSettingsSource(file_secret_settings),
        ]
        if cls.config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=cls.config_file))
        return tuple(sources)


def secret_values(model: BaseModel) -> list[str]:
    """Return the value of every `SecretStr` setting of `model` and of its groups, set or not.

    The log masks these: a secret added to any group (a kind of source's too)
    is masked without anyone listing it.
    """
    found: list[str] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            found.extend(secret_values(value))
    return [secret for secret in found if secret]


def load_settings(
    config_file: Path | None = None, *, given_by: str = "the caller", **overrides: Any
) -> Settings:
    """Return the settings, reading `config_file` (or PORTAL_SYNC_CONFIG) when given.

    Secrets are read from PORTAL_SYNC_SECRETS_DIR, or from systemd's
    CREDENTIALS_DIRECTORY (LoadCredential=) when that is set. A section, key,
    variable or secret file that is no setting is a ConfigurationError naming
    it and the closest setting; `given_by` says where `overrides` come from.
    """
    named = os.environ.get("PORTAL_SYNC_CONFIG")
    given = config_file or (Path(named) if named else None)
    path = given.absolute() if given is not None else None
    if path is not None and not path.is_file():
        how = "--config" if config_file else "PORTAL_SYNC_CONFIG"
        raise ConfigurationError(f"the settings file {path} ({how}) does not exist")
    secrets = os.environ.get("PORTAL_SYNC_SECRETS_DIR") or os.environ.get("CREDENTIALS_DIRECTORY")
    origins = _trace(path, secrets, overrides, given_by)

    class FileBoundSettings(Settings):
        config_file = path

    try:
        settings = FileBoundSettings(_secrets_dir=secrets, **overrides)
    except ValidationError as exc:
        lines = [
            f"{origins.name(tuple(map(str, error['loc'])))}: {error['msg']}"
            for error in exc.errors()
        ]
        raise ConfigurationError("invalid settings:\n  " + "\n  ".join(lines)) from exc
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read the settings: {exc}") from exc
    settings._origins = origins
    _anchor_paths(settings, path, origins)
    for name in Settings.model_fields:
        group = getattr(settings, name)
        if isinstance(group, SettingGroup):
            setattr(settings, name, _named(group, (name,), origins))
    return settings


def _kind_paths(kinds: Mapping[str, SourceKind]) -> list[tuple[str, ...]]:
    """Return the settings of the kinds' groups that name a file: their `Path` fields."""
    return [
        ("source", name, field)
        for name, kind in kinds.items()
        if kind.settings is not None
        for field, info in kind.settings.model_fields.items()
        if Path in (info.annotation, *get_args(info.annotation))
    ]


PATH_SETTINGS: tuple[tuple[str, ...], ...] = (
    ("state_dir",),
    ("source", "path"),
    *_kind_paths(KINDS),
    ("mapping", "path"),
    ("ldap", "ca_file"),
    ("ldap", "client_cert_file"),
    ("ldap", "client_key_file"),
    ("passwords", "initial_file"),
    ("console", "ended_sessions"),
)
"""Every setting that names a file or folder."""


def _anchor_paths(settings: Settings, config_file: Path | None, origins: Origins) -> None:
    """Make every path setting absolute: from the settings file's folder when set there."""
    for setting in PATH_SETTINGS:
        *groups, field = setting
        owner: Any = settings
        for group in groups:
            owner = getattr(owner, group)
        value = getattr(owner, field)
        if value is None or (setting == ("mapping", "path") and not is_mapping_file(value)):
            continue
        written = config_file is not None and origins.name(setting) == in_file(setting, config_file)
        base = config_file.parent if written and config_file is not None else Path.cwd()
        absolute = Path(os.path.normpath(base / Path(value)))
        setattr(owner, field, str(absolute) if isinstance(value, str) else absolute)


def is_mapping_file(name_or_path: str) -> bool:
    """Return whether mapping.path names a file (a path, or ending in .toml), not a flavour."""
    return name_or_path.endswith(".toml") or "/" in name_or_path


def _named(group: SettingGroup, path: tuple[str, ...], origins: Origins) -> SettingGroup:
    """Return a copy of a group whose settings, sub-groups too, say where they were set."""
    names = {field: origins.name((*path, field)) for field in type(group).model_fields}
    named = group.named(names)
    for field in type(group).model_fields:
        sub = getattr(named, field)
        if isinstance(sub, SettingGroup):
            setattr(named, field, _named(sub, (*path, field), origins))
    return named


def _trace(
    path: Path | None, secrets: str | None, overrides: dict[str, Any], given_by: str
) -> Origins:
    """Return where each setting is set; raise ConfigurationError for those that are none."""
    tree = known(Settings)
    origins = Origins(config_file=path)
    for setting in flattened(overrides, tree):
        origins.note(setting, f"{'.'.join(setting)} as given by {given_by}")
    problems = unknown_variables(os.environ, tree)
    for name in os.environ:
        found = _variable_path(name, tree)
        if found:
            origins.note(found, name)
    dotenv = Path(".env")
    if dotenv.is_file():
        entries = dotenv_values(dotenv)
        problems += unknown_variables(entries, tree, str(dotenv.resolve()))
        for name in entries:
            found = _variable_path(name, tree)
            if found:
                origins.note(found, f"{name} in {dotenv.resolve()}")
    if secrets and Path(secrets).is_dir():
        problems += unknown_secrets(Path(secrets), tree)
        for file in Path(secrets).iterdir():
            found = setting_path(file.name, tree)
            if found and file.is_file():
                origins.note(found, f"the secret file {file}")
    if path is not None:
        data = _read_toml(path)
        problems += unknown_in_file(data, tree, path)
        for setting in flattened(data, tree):
            origins.note(setting, in_file(setting, path))
    if problems:
        raise ConfigurationError(
            "unknown settings (a misspelled setting would leave its default in force):\n  "
            + "\n  ".join(problems)
        )
    return origins


def _variable_path(name: str, tree: Names) -> tuple[str, ...] | None:
    if not name.upper().startswith(PREFIX) or name.upper() in NOT_SETTINGS:
        return None
    return setting_path(name[len(PREFIX) :], tree)


def _read_toml(path: Path) -> dict[str, Any]:
    """Return the content of a settings file, or raise ConfigurationError naming it."""
    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"the settings file {path} is not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigurationError(
            f"the settings file {path} is not UTF-8 text (byte {exc.start})"
        ) from exc
    except OSError as exc:
        raise ConfigurationError(f"cannot read the settings file {path}: {exc.strerror}") from exc
