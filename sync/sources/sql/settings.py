"""The settings group of the SQL source, `[source.sql]`.

It imports only pydantic and `sync.origins`, so that `sync.settings` can
assemble every group without loading the SQL reader or SQLAlchemy.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ConfigDict, Field, SecretStr

from sync.origins import SettingGroup


class SqlSourceSettings(SettingGroup):
    """The customer structure read from a SQL database (source.kind = "sql")."""

    group = "source__sql"
    model_config = ConfigDict(extra="forbid")

    url: str = ""
    """SQLAlchemy database URL without the password, e.g.
    postgresql+psycopg://reader@db.example:5432/workflow or sqlite:////srv/workflow.db."""
    password: SecretStr = SecretStr("")
    """Password of the database login (best as the secret file source__sql__password);
    never printed."""
    queries: Path = Path("queries.toml")
    """TOML file of the SELECTs that read each kind of record; relative in the settings file:
    from its folder; default queries.toml (in the working directory)."""
    timeout: float = Field(default=10.0, gt=0)
    """Seconds to wait for the database connection; default 10."""
    isolation_level: str = "REPEATABLE READ"
    """Isolation level of the one transaction a run reads in; default REPEATABLE READ
    (SQLite reads in one deferred transaction whatever is set)."""
    poll_interval: float = Field(default=2.0, ge=0)
    """Seconds between two runs of the change query in the daemon; 0 turns it off; default 2."""
    notify_channel: str = ""
    """PostgreSQL only: the daemon LISTENs on this channel and syncs on every NOTIFY;
    default none."""
