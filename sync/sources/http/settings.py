"""The settings group of the HTTP source, `[source.http]`.

It imports only pydantic and `sync.origins`, so that `sync.settings` can
assemble every group without loading the HTTP reader or httpx.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ConfigDict, Field, SecretStr

from sync.origins import SettingGroup


class HttpSourceSettings(SettingGroup):
    """The source document fetched over HTTP(S) (source.kind = "http")."""

    group = "source__http"
    model_config = ConfigDict(extra="forbid")

    url: str = ""
    """URL of the source document (JSON, or YAML when it ends in .yaml/.yml)."""
    token: SecretStr = SecretStr("")
    """Bearer token sent with each request (best as the secret file source__http__token);
    never printed; default none."""
    username: str = ""
    """User for basic auth, with password; default none."""
    password: SecretStr = SecretStr("")
    """Password for basic auth; never printed."""
    ca_file: Path | None = None
    """PEM bundle of the CAs that may sign the server certificate; default the system's CAs."""
    tls_verify: bool = True
    """Validate the server certificate and host name; default on. Turn off only to diagnose."""
    timeout: float = Field(default=30.0, gt=0)
    """Seconds to wait to connect and between two pieces of the answer; default 30."""
    retries: int = Field(default=2, ge=0, le=10)
    """Attempts after a failed one (connection error, timeout, 5xx); default 2."""
    backoff: float = Field(default=1.0, ge=0)
    """Seconds before the first retry, doubled for each next; default 1."""
    poll_interval: float = Field(default=2.0, ge=0)
    """Seconds between two conditional requests in the daemon; 0 turns it off; default 2."""
