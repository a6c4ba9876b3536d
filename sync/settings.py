"""Settings: environment (PORTAL_SYNC_*, `__` between groups), a TOML file, `.env`, secrets.

Precedence, highest first: values passed in code, environment variables,
`.env`, the secrets directory (one file per setting, e.g. `ldap__bind_password`),
the TOML file (`--config FILE` or PORTAL_SYNC_CONFIG), then the defaults below.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    NestedSecretsSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from sync.desired import Layout
from sync.errors import ConfigurationError
from sync.guard import SafetySettings


class LdapSettings(BaseModel):
    """How to reach and bind to the directory."""

    model_config = ConfigDict(extra="forbid")

    url: str = "ldap://localhost:389"
    """Server URL, ldap:// or ldaps://; default ldap://localhost:389."""
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


class SourceSettings(BaseModel):
    """Where the customer structure comes from."""

    model_config = ConfigDict(extra="forbid")

    path: Path = Path("customers.json")
    """Path of the source document (JSON, or YAML with .yaml/.yml); default customers.json."""


class MappingSettings(BaseModel):
    """Which attribute mapping to apply."""

    model_config = ConfigDict(extra="forbid")

    path: str = "openldap"
    """A shipped flavour name (openldap) or the path of a mapping TOML file; default openldap."""


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
    state_dir: Path = Field(default_factory=lambda: _default_state_dir())
    """Directory for run history, locks and caches (PORTAL_SYNC_STATE_DIR);
    default /var/lib/portal-sync when running as root, else ~/.local/state/portal-sync."""

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


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Return the settings, reading `config_file` (or PORTAL_SYNC_CONFIG) when given.

    Secrets are read from PORTAL_SYNC_SECRETS_DIR, or from systemd's
    CREDENTIALS_DIRECTORY (LoadCredential=) when that is set.
    """
    named = os.environ.get("PORTAL_SYNC_CONFIG")
    path = config_file or (Path(named) if named else None)
    if path is not None and not path.is_file():
        raise ConfigurationError(f"the configuration file {path} does not exist")
    secrets = os.environ.get("PORTAL_SYNC_SECRETS_DIR") or os.environ.get("CREDENTIALS_DIRECTORY")

    class FileBoundSettings(Settings):
        config_file = path

    try:
        return FileBoundSettings(_secrets_dir=secrets, **overrides)
    except ValidationError as exc:
        lines = [f"{'.'.join(map(str, error['loc']))}: {error['msg']}" for error in exc.errors()]
        raise ConfigurationError("invalid settings:\n  " + "\n  ".join(lines)) from exc
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read the settings: {exc}") from exc
