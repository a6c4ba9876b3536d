"""The SQL source: the customer structure read where the workflow system keeps it.

SQLAlchemy Core, any database it has a driver for. Every query of a run
reads one snapshot: one read-only transaction at the configured isolation
level (REPEATABLE READ by default; on SQLite, one transaction begun before
the first query), so a run never sees half of a change. Results stream
(server-side cursors where the driver has them). The database being down,
a refused login, a query with an error and a missing or unknown column are
a SourceError naming the query and the column: the run stops before
anything touches the directory. A bad value in a row is the document's
business: the row becomes a record of the document, validated and
quarantined like the file's.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exc, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from sync.core.parts import PARTS, broken_part, protect
from sync.errors import ConfigurationError, SourceError
from sync.sources.document import LoadedDocument, load_data
from sync.sources.sql.queries import SHAPES, Queries, read_queries
from sync.sources.sql.rows import Row, join, plain
from sync.sources.sql.settings import SqlSourceSettings

log = logging.getLogger("portal_sync.source")

_BATCH = 2000
"""Rows fetched from a server-side cursor at a time."""


class SqlSource:
    """The customer structure in a SQL database, read by the queries of a TOML file."""

    def __init__(self, settings: SqlSourceSettings) -> None:
        self.settings = settings
        self.url = _url(settings)
        self.label = self.url.render_as_string(hide_password=True)
        """The database as messages name it: the URL, its password hidden."""
        self._secrets = [s for s in (settings.password.get_secret_value(), self.url.password) if s]
        self._queries: Queries | None = None

    @property
    def queries(self) -> Queries:
        """Return the queries file's SELECTs, read once."""
        if self._queries is None:
            self._queries = read_queries(self.settings.queries, self.settings.name_of("queries"))
        return self._queries

    def digest(self) -> str:
        """Return "": telling a change costs as much as reading, so every run reads."""
        return ""

    def load(self) -> LoadedDocument:
        """Return the document the queries read from one snapshot of the database."""
        queries = self.queries
        rows: dict[str, list[Row]] = {}
        with self._snapshot() as connection:
            for name, select in queries.selects.items():
                rows[name] = list(self._read(connection, name, select))
        joined = join(rows)
        loaded = load_data(joined.data, f"{self.label} ({queries.origin})")
        loaded.errors[:0] = joined.errors
        loaded.quarantine.keys.update(joined.quarantine.keys)
        loaded.quarantine.kinds.update(joined.quarantine.kinds)
        empty = [name for name in PARTS if not rows[name]]
        loaded.errors.extend(
            broken_part(name, f"query {name}", "it returned no rows") for name in empty
        )
        protect(loaded.quarantine, empty)
        return loaded

    def counts(self) -> dict[str, int]:
        """Return how many rows each query returns now (for `portal-sync check`)."""
        with self._snapshot() as connection:
            return {
                name: sum(1 for _ in self._read(connection, name, select))
                for name, select in self.queries.selects.items()
            }

    def change_token(self) -> str:
        """Return a digest of the change query's result now; "" when there is no change query."""
        select = self.queries.change
        if not select:
            return ""
        with self._snapshot() as connection:
            try:
                result = connection.execute(text(select)).all()
            except exc.SQLAlchemyError as error:
                raise self._error(error, "query change") from error
        return hashlib.blake2b(repr(result).encode(), digest_size=16).hexdigest()

    def listen(self, channel: str, on_notify: Callable[[], None], stop: threading.Event) -> None:
        """Call `on_notify` for each PostgreSQL NOTIFY on `channel` until `stop` is set.

        The notifications that arrive together (one per table a commit
        changed) call it once. A lost connection is logged once, at WARNING
        with what to do, and opened again a second later and then at most
        every 30 s (each try at DEBUG, with its traceback); the
        notifications missed meanwhile are made up for by one call once it
        listens again.
        """
        import psycopg
        from psycopg import sql

        delay = 1.0
        first = True
        failing = False
        while not stop.is_set():
            try:
                with self._engine().connect() as connection:
                    raw = connection.connection.driver_connection
                    if not isinstance(raw, psycopg.Connection):
                        raise ConfigurationError(
                            f"{self.settings.name_of('notify_channel')}: LISTEN/NOTIFY needs "
                            f"PostgreSQL through psycopg, not {self.url.drivername}"
                        )
                    raw.autocommit = True
                    raw.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    log.info("listening for NOTIFY on %s of %s", channel, self.label)
                    if not first:
                        on_notify()
                    first, delay, failing = False, 1.0, False
                    while not stop.is_set():
                        if list(raw.notifies(timeout=0.5, stop_after=1)):
                            on_notify()
            except (exc.SQLAlchemyError, psycopg.Error) as error:
                if not failing:
                    log.warning(
                        "NOTIFY on %s: %s; listening again as soon as the database answers "
                        "(quiet until then; one run then makes up for what was missed): "
                        "check that %s is up and takes the login",
                        channel,
                        _lost(self._error(error, "LISTEN")),
                        self.label,
                    )
                log.debug("NOTIFY on %s: listening again in %g s", channel, delay, exc_info=error)
                first, failing = False, True
                stop.wait(delay)
                delay = min(delay * 2, 30.0)

    def _engine(self) -> Engine:
        engine = create_engine(
            self.url, poolclass=NullPool, connect_args=_connect_args(self.url, self.settings)
        )
        if self.url.get_backend_name() == "sqlite":
            _begin_explicitly(engine)
        return engine

    @contextmanager
    def _snapshot(self) -> Iterator[Connection]:
        """Yield a connection inside one read-only transaction: the run's snapshot."""
        _require_database_file(self.url)
        engine = self._engine()
        try:
            with engine.connect() as connection:
                backend = self.url.get_backend_name()
                if backend == "postgresql":
                    connection = connection.execution_options(
                        isolation_level=self.settings.isolation_level, postgresql_readonly=True
                    )
                elif backend != "sqlite":
                    connection = connection.execution_options(
                        isolation_level=self.settings.isolation_level
                    )
                with connection.begin():
                    yield connection
        except exc.SQLAlchemyError as error:
            raise self._error(error, "connect") from error
        finally:
            engine.dispose()

    def _read(self, connection: Connection, name: str, select: str) -> Iterator[Row]:
        """Yield the rows of one query, its columns checked against the fields they feed."""
        try:
            result = connection.execute(text(select).execution_options(yield_per=_BATCH))
            columns = [str(column).casefold() for column in result.keys()]  # noqa: SIM118
            self._check_columns(name, columns)
            for partition in result.partitions():
                for row in partition:
                    yield plain(columns, row)
        except exc.SQLAlchemyError as error:
            raise self._error(error, f"query {name}") from error

    def _check_columns(self, name: str, columns: list[str]) -> None:
        shape = SHAPES[name]
        where = f"{self.label}: query {name} of {self.queries.origin}"
        unknown = [column for column in columns if column not in shape.columns]
        if unknown:
            raise SourceError(
                f"{where}: column {unknown[0]!r} is no field of a {shape.record}; "
                f"name the columns {', '.join(shape.columns)} (AS ...)"
            )
        missing = [column for column in shape.required if column not in columns]
        if missing:
            raise SourceError(
                f"{where}: column {missing[0]!r} is missing; a {shape.record} needs "
                f"{', '.join(shape.required)}; nothing was changed"
            )

    def _error(self, error: BaseException, doing: str) -> SourceError:
        """Return the SourceError for a database error: what failed, the driver's first line."""
        cause = getattr(error, "orig", None) or error
        first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        message = f"{self.label}: {doing}: {first}"
        if doing.startswith("query "):
            message += f" (in {self.queries.origin})"
        for secret in self._secrets:
            message = message.replace(secret, "***")
        return SourceError(message + "; nothing was changed")


def _lost(error: SourceError) -> str:
    """Return the message of a lost LISTEN connection, without "nothing was changed"."""
    return str(error).removesuffix("; nothing was changed")


def _url(settings: SqlSourceSettings) -> URL:
    try:
        url = make_url(settings.url)
    except exc.ArgumentError as error:
        raise ConfigurationError(
            f"{settings.name_of('url')}: not a database URL (e.g. "
            "postgresql+psycopg://reader@db:5432/workflow)"
        ) from error
    password = settings.password.get_secret_value()
    return url.set(password=password) if password else url


def _connect_args(url: URL, settings: SqlSourceSettings) -> dict[str, Any]:
    backend = url.get_backend_name()
    if backend == "postgresql":
        return {"connect_timeout": max(1, round(settings.timeout))}
    if backend == "sqlite":
        return {"timeout": settings.timeout}
    if backend in ("mysql", "mariadb"):
        return {"connect_timeout": max(1, round(settings.timeout))}
    return {}


def _require_database_file(url: URL) -> None:
    """Refuse a SQLite file that does not exist: SQLite would create an empty one."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return
    if url.database.startswith("file:"):
        return
    if not Path(url.database).is_file():
        raise SourceError(f"{url.database}: no such SQLite database file; nothing was changed")


def _begin_explicitly(engine: Engine) -> None:
    """Make SQLite begin the transaction before the first SELECT, not at the first write.

    Python's sqlite3 module begins a transaction only before a write, so the
    SELECTs of a run would each read the database as it is at that moment.
    """

    @event.listens_for(engine, "connect")
    def _no_implicit(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN")
