"""PostgreSQL 15 run as the `postgres` user in the foreground, on a free loopback port.

`initdb` refuses root, so the cluster lives in a temporary directory owned by
the `postgres` system user, and `postgres` itself runs as that user in the
foreground: its PID is the one we started, the leader of its own process
group, and every backend it forks is in that group. A stop is a signal to that
PID (SIGINT is PostgreSQL's "fast" shutdown), then whatever is left of the
group is killed. Connections over TCP need a password (scram-sha-256), so a
wrong password is refused as on a real server; the Unix socket lives in the
cluster's directory and trusts local connections.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import URL

from .process import ServerError, alive, children, free_port, run, spawn, stop_group, wait_until

BIN = Path("/usr/lib/postgresql/15/bin")
HaltMode = Literal["smart", "fast", "immediate", "kill"]
_SIGNALS: dict[HaltMode, signal.Signals] = {
    "smart": signal.SIGTERM,
    "fast": signal.SIGINT,
    "immediate": signal.SIGQUIT,
    "kill": signal.SIGKILL,
}
"""PostgreSQL's shutdown modes by the signal the postmaster takes for each."""

SETTINGS = ("-F", "-c", "fsync=off")
"""No fsync: a test cluster need not survive a power cut, but does survive its own crash.

`synchronous_commit=off` is left out on purpose: with it a commit returns
before its WAL is written, and a killed server loses rows the test saw
committed.
"""


class PostgresCluster:
    """One PostgreSQL cluster on a free loopback port; create() once, then start()/halt()/stop()."""

    user = "postgres"
    host = "127.0.0.1"

    def __init__(self, superuser: str = "postgres", password: str = "Postgres-Test-1") -> None:
        self.superuser = superuser
        self.password = password
        self.port = 0
        self._directory: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self.timings: dict[str, float] = {}

    @property
    def directory(self) -> Path:
        """Return the cluster's temporary directory (data, socket, log)."""
        if self._directory is None:
            raise ServerError("the PostgreSQL cluster has not been created")
        return self._directory

    @property
    def data_dir(self) -> Path:
        """Return the data directory `initdb` made."""
        return self.directory / "data"

    @property
    def log(self) -> Path:
        """Return the server's log (its stderr)."""
        return self.directory / "postgres.log"

    @property
    def pid(self) -> int:
        """Return the PID of the running postmaster."""
        if self._process is None:
            raise ServerError("PostgreSQL is not running")
        return self._process.pid

    @property
    def running(self) -> bool:
        """Return whether the postmaster runs."""
        return self._process is not None and self._process.poll() is None

    def url(
        self, database: str = "postgres", user: str | None = None, password: str | None = None
    ) -> str:
        """Return a SQLAlchemy URL (psycopg 3) for `database`, as the superuser by default."""
        if user is None:
            user, password = self.superuser, self.password
        return URL.create(
            "postgresql+psycopg",
            username=user,
            password=password,
            host=self.host,
            port=self.port,
            database=database,
        ).render_as_string(hide_password=False)

    def conninfo(
        self, database: str = "postgres", user: str | None = None, password: str | None = None
    ) -> str:
        """Return a libpq connection string for psycopg, as the superuser by default."""
        if user is None:
            user, password = self.superuser, self.password
        return make_conninfo(
            host=self.host, port=self.port, dbname=database, user=user, password=password or ""
        )

    def connect(self, database: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        """Return an autocommit psycopg connection as the superuser."""
        return psycopg.connect(self.conninfo(database), autocommit=True, connect_timeout=5)

    def _as_user(self) -> dict[str, Any]:
        """Return the subprocess arguments that run a command as the postgres user."""
        return {
            "user": self.user,
            "group": self.user,
            "extra_groups": [],
            "cwd": self.directory,
            "env": {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(self.directory)},
        }

    def create(self) -> None:
        """Make the temporary directory, owned by postgres, and run initdb in it."""
        started = time.monotonic()
        self._directory = Path(tempfile.mkdtemp(prefix="portal-sync-pg-"))
        atexit.register(self.stop)
        shutil.chown(self._directory, self.user, self.user)
        password_file = self._directory / "superuser.pw"
        password_file.write_text(self.password + "\n", encoding="utf-8")
        shutil.chown(password_file, self.user, self.user)
        run(
            [
                str(BIN / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                self.superuser,
                f"--pwfile={password_file}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
            what="initdb",
            **self._as_user(),
        )
        password_file.unlink()
        self.timings["initdb"] = time.monotonic() - started

    def start(self) -> None:
        """Run postgres in the foreground; return once the superuser can log in over TCP.

        The first call creates the cluster and picks the port; a later call
        after `halt` starts the same data on the same port.
        """
        if self.running:
            return
        self.halt()
        if self._directory is None:
            self.create()
        if not self.port:
            self.port = free_port()
        started = time.monotonic()
        process = spawn(
            [
                str(BIN / "postgres"),
                "-D",
                str(self.data_dir),
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-k",
                str(self.directory),
                *SETTINGS,
            ],
            log=self.log,
            **self._as_user(),
        )
        self._process = process
        try:
            wait_until(
                self._answers,
                process=process,
                what=f"postgres on {self.host}:{self.port}",
                log=self.log,
                timeout=30,
                interval=0.02,
            )
        except BaseException:
            self.halt()
            raise
        self.timings.setdefault("start", time.monotonic() - started)

    def _answers(self) -> bool:
        """Return whether the superuser can log in and run a query."""
        try:
            with self.connect() as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    def processes(self) -> list[int]:
        """Return the postmaster and its live children (backends, checkpointer, ...)."""
        if not self.running:
            return []
        return [self.pid, *children(self.pid)]

    def halt(self, mode: HaltMode = "fast") -> None:
        """Stop the cluster in one of PostgreSQL's shutdown modes, keeping the data for `start`.

        "fast" disconnects every client and shuts down cleanly; "smart" waits
        for the clients to leave first; "immediate" quits without a
        checkpoint (crash recovery at the next start); "kill" is SIGKILL to
        the postmaster and all its children at once, as a crash of the
        machine would be. Every backend calls setsid(), so the children are
        not in the postmaster's process group: they are found as its
        children, and any still alive after the postmaster ended are killed.
        """
        if self._process is None:
            return
        process, self._process = self._process, None
        if process.poll() is None and mode == "kill":
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGSTOP)
        backends = children(process.pid)
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(_SIGNALS[mode])
            for pid in backends if mode == "kill" else ():
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(30)
        stop_group(process, sig=signal.SIGKILL)
        deadline = time.monotonic() + 10
        while left := alive(backends):
            if time.monotonic() > deadline:
                raise ServerError(f"PostgreSQL processes {left} outlived the stop")
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)

    @contextlib.contextmanager
    def down(self, mode: HaltMode = "fast") -> Iterator[None]:
        """Keep the cluster stopped inside the block; start it again (same port) after it."""
        self.halt(mode)
        try:
            yield
        finally:
            self.start()

    def stop(self) -> None:
        """Stop the postmaster and delete the cluster."""
        self.halt()
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None
        atexit.unregister(self.stop)

    def create_database(self, prefix: str = "test") -> str:
        """Create a database with a unique name and return the name."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with self.connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting whoever is still connected to it."""
        with self.connect() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def create_role(self, password: str, *, prefix: str = "reader", read_all: bool = True) -> str:
        """Create a login role with `password` and return its name.

        With `read_all` it is a member of `pg_read_all_data` (SELECT on every
        table of every database, nothing else): what a read-only source
        account in a shop's database looks like.
        """
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with self.connect() as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(name), sql.Literal(password)
                )
            )
            if read_all:
                conn.execute(sql.SQL("GRANT pg_read_all_data TO {}").format(sql.Identifier(name)))
        return name

    def drop_role(self, name: str) -> None:
        """Drop a role (its databases must be gone or hold nothing of it)."""
        with self.connect() as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


@dataclass
class PostgresDatabase:
    """A fresh database of the session's cluster, and the roles a test made for it."""

    cluster: PostgresCluster
    name: str
    roles: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Return the SQLAlchemy URL of this database, as the superuser."""
        return self.cluster.url(self.name)

    @property
    def conninfo(self) -> str:
        """Return the libpq connection string of this database, as the superuser."""
        return self.cluster.conninfo(self.name)

    def url_as(self, user: str, password: str) -> str:
        """Return the SQLAlchemy URL of this database for another login (right or wrong)."""
        return self.cluster.url(self.name, user, password)

    def connect(self) -> psycopg.Connection[tuple[object, ...]]:
        """Return an autocommit psycopg connection to this database as the superuser."""
        return self.cluster.connect(self.name)

    def create_role(self, password: str, *, read_all: bool = True) -> str:
        """Create a login role (read-only on all data by default), dropped with the database."""
        name = self.cluster.create_role(password, read_all=read_all)
        self.roles.append(name)
        return name

    def drop(self) -> None:
        """Drop the database and the roles made for it."""
        self.cluster.drop_database(self.name)
        for role in self.roles:
            self.cluster.drop_role(role)
        self.roles.clear()
