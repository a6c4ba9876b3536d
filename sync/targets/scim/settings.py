"""The settings of the SCIM 2.0 target (`[scim]`): where the provider is and how to talk to it.

Only pydantic and `sync.origins` are imported here, so that `sync.settings`
can hold this group without importing the target's client or run.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ConfigDict, Field, SecretStr

from sync.origins import SettingGroup


class ScimSettings(SettingGroup):
    """A SCIM 2.0 service provider (RFC 7643/7644) the users and groups are pushed to."""

    group = "scim"
    model_config = ConfigDict(extra="forbid")

    url: str = ""
    """Base URL of the provider's SCIM endpoint, e.g. https://idp.example/scim/v2; no default."""
    token: SecretStr = SecretStr("")
    """Static bearer token (best as the secret file scim__token); never printed; default none."""
    token_url: str = ""
    """OAuth2 token endpoint for the client-credentials grant, instead of a static token."""
    client_id: str = ""
    """OAuth2 client id (with token_url); default none."""
    client_secret: SecretStr = SecretStr("")
    """OAuth2 client secret (best as the secret file scim__client_secret); never printed."""
    scope: str = ""
    """OAuth2 scope to ask for, space separated; default none."""
    ca_file: Path | None = None
    """PEM bundle of the CAs that may sign the provider's certificate; default the system's."""
    tls_verify: bool = True
    """Validate the provider's certificate and host name; default on. Off only to diagnose."""
    timeout: float = Field(default=30.0, gt=0)
    """Seconds to wait to connect and between two pieces of an answer; default 30."""
    page_size: int = Field(default=100, ge=1, le=10000)
    """Resources per page when listing (`count`); default 100."""
    rate_limit: float = Field(default=0.0, ge=0)
    """Most requests per second sent to the provider; 0 means no limit; default 0."""
    bulk: bool = True
    """Send creations through /Bulk when /ServiceProviderConfig offers it; default on."""
    retries: int = Field(default=3, ge=0, le=10)
    """Attempts after a 429 or 503 answer, waiting as Retry-After says; default 3."""
    max_retry_after: float = Field(default=60.0, ge=0)
    """Longest wait in seconds one Retry-After may impose; longer ends the run; default 60."""

    @property
    def oauth(self) -> bool:
        """Return whether tokens come from the OAuth2 client-credentials grant."""
        return bool(self.token_url)
