"""The SQL database as a kind of source: `[source.sql]`, its queries file, its change watch.

The daemon notices a change by the queries file's change query, polled every
few seconds (any result that differs from the last one is a change: a commit
is whole, so there is nothing to settle), and on PostgreSQL by a NOTIFY on a
configured channel, which fires at once from a thread of its own. With both,
one change is one run: each NOTIFY first reads the change query and counts
its result as seen, so the poll does not run that change again, and the
poll fires only when two looks in a row saw something new and no NOTIFY
came between (a change no trigger announces): the poll does not overtake
the NOTIFY of the same commit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from sync.errors import ConfigurationError
from sync.sources.kind import ANY_SCHEME, Poll, Source, SourceKind, Watches
from sync.sources.sql.settings import SqlSourceSettings
from sync.sources.watch import ChangeWatch

if TYPE_CHECKING:
    from sync.settings import Settings, SourceSettings


class SqlKind(SourceKind):
    """The customer structure in a SQL database, read by the queries of a TOML file."""

    settings = SqlSourceSettings
    schemes = (ANY_SCHEME,)

    def unready(self, source: SourceSettings) -> str:
        """Return the problem when no database URL is set."""
        if source.own(SqlSourceSettings).url:
            return ""
        return 'source.kind is "sql" but source.sql.url is not set'

    def reader(self, source: SourceSettings, state_dir: Path | None) -> Source:
        """Return the reader of the database."""
        from sync.sources.sql.reader import SqlSource

        return SqlSource(source.own(SqlSourceSettings))

    def override(self, value: str) -> dict[str, Any]:
        """Return the database URL `--source` gives."""
        return {"sql": {"url": value}}

    def describe(self, source: SourceSettings) -> str:
        """Return the database URL, its password hidden, and the queries file."""
        sql = source.own(SqlSourceSettings)
        parts = urlsplit(sql.url)
        url = sql.url
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
            url = urlunsplit(parts._replace(netloc=netloc))
        return f"SQL {url} with {sql.queries}"

    def watches(
        self, settings: Settings, request: Callable[[str], None], stopping: threading.Event
    ) -> Watches:
        """Return the change query's poll and the NOTIFY listener, as far as they are set."""
        from sync.sources.sql.reader import SqlSource

        own = settings.source.own(SqlSourceSettings)
        sql = SqlSource(own)
        interval = own.poll_interval
        channel = own.notify_channel
        if channel and sql.url.get_backend_name() != "postgresql":
            raise ConfigurationError(
                f"{own.name_of('notify_channel')}: LISTEN/NOTIFY needs PostgreSQL, "
                f"not {sql.url.get_backend_name()}; use the change query instead"
            )
        watches = Watches()
        polled: ChangeWatch | None = None
        if interval > 0 and sql.queries.change:
            what = f"change query every {interval:g} s"
            polled = ChangeWatch(
                sql.change_token,
                lambda: request("the database changed"),
                what,
                settle=bool(channel),
            )
            watches.polls.append(Poll(polled.poll, interval, what))
        if channel:
            heard = _notified(channel, polled, request)
            watches.listeners.append(lambda: sql.listen(channel, heard, stopping))
        return watches

    def check(self, reader: Source) -> list[str]:
        """Return how many rows each query reads now."""
        from sync.sources.sql.reader import SqlSource

        if not isinstance(reader, SqlSource):
            return []
        rows = ", ".join(f"{name} {count}" for name, count in reader.counts().items())
        return [f"read: {rows}"]


def _notified(
    channel: str, polled: ChangeWatch | None, request: Callable[[str], None]
) -> Callable[[], None]:
    """Return what a NOTIFY does: count the change query's result as seen, then ask for a run.

    The look comes first, so the run reads at least what it saw: the poll
    never runs a change again that this run reads.
    """

    def heard() -> None:
        if polled is not None:
            polled.seen_elsewhere()
        request(f"NOTIFY on {channel}")

    return heard
