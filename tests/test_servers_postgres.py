"""The real PostgreSQL 15 the SQL source tests run against (docs/test-servers.md).

These tests prove the `postgres` fixtures and record, on the real server, the
behaviour a SQL source relies on: a snapshot that holds for a whole
transaction, LISTEN/NOTIFY, refused logins, and a database that goes away
and comes back.
"""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError, ProgrammingError

from servers import PostgresCluster, PostgresDatabase
from servers.process import alive, port_is_open

pytest_plugins = ["servers.fixtures"]

METADATA = sa.MetaData()
PERSONS = sa.Table(
    "persons",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("login", sa.String(64), nullable=False, unique=True),
    sa.Column("customer", sa.String(64), nullable=False),
)


def engine_for(url: str, **options: object) -> sa.Engine:
    """Return an engine that does not keep connections between tests."""
    return sa.create_engine(url, poolclass=sa.pool.NullPool, **options)


def seeded(database: PostgresDatabase) -> sa.Engine:
    """Create the persons table with two rows; return a superuser engine."""
    engine = engine_for(database.url)
    METADATA.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            PERSONS.insert(),
            [
                {"id": 1, "login": "jsilva", "customer": "Agentur Blau"},
                {"id": 2, "login": "mmeier", "customer": "Druckerei Nord"},
            ],
        )
    return engine


def logins(conn: sa.Connection) -> list[str]:
    """Return the logins in the persons table, sorted."""
    return list(conn.execute(sa.select(PERSONS.c.login).order_by(PERSONS.c.login)).scalars())


def test_rows_inserted_with_sqlalchemy_core_are_read_back(postgres_db: PostgresDatabase) -> None:
    engine = seeded(postgres_db)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(PERSONS).order_by(PERSONS.c.id)).all()
        version = conn.execute(sa.text("SHOW server_version")).scalar_one()
        listening = conn.execute(sa.text("SHOW listen_addresses")).scalar_one()
    assert [tuple(row) for row in rows] == [
        (1, "jsilva", "Agentur Blau"),
        (2, "mmeier", "Druckerei Nord"),
    ]
    assert str(version).startswith("15.")
    assert listening == "127.0.0.1"
    assert engine.dialect.driver == "psycopg"


def test_a_repeatable_read_transaction_does_not_see_a_commit_made_meanwhile(
    postgres_db: PostgresDatabase,
) -> None:
    engine = seeded(postgres_db)
    with (
        engine.connect().execution_options(isolation_level="REPEATABLE READ") as reader,
        engine.connect().execution_options(isolation_level="READ COMMITTED") as committed,
    ):
        reader.begin()
        committed.begin()
        assert logins(reader) == ["jsilva", "mmeier"]
        assert logins(committed) == ["jsilva", "mmeier"]

        with engine.begin() as writer:
            writer.execute(PERSONS.insert().values(id=3, login="agarcia", customer="Agentur Blau"))
            writer.execute(PERSONS.delete().where(PERSONS.c.login == "mmeier"))

        assert logins(reader) == ["jsilva", "mmeier"]
        assert logins(committed) == ["agarcia", "jsilva"]
        reader.rollback()
        committed.rollback()

        assert logins(reader) == ["agarcia", "jsilva"]


def test_a_notification_reaches_a_listening_connection_only_when_its_transaction_commits(
    postgres_db: PostgresDatabase,
) -> None:
    with (
        psycopg.connect(postgres_db.conninfo, autocommit=True) as listener,
        psycopg.connect(postgres_db.conninfo) as sender,
    ):
        listener.execute("LISTEN customer_structure")

        sender.execute("SELECT pg_notify('customer_structure', 'rolled back')")
        sender.rollback()
        sender.execute("SELECT pg_notify('customer_structure', 'persons:3')")
        sender.commit()

        received = list(listener.notifies(timeout=5, stop_after=1))
        assert [(n.channel, n.payload) for n in received] == [("customer_structure", "persons:3")]
        assert list(listener.notifies(timeout=0.2)) == []


def test_a_wrong_password_is_refused_and_the_read_only_role_cannot_write(
    postgres_db: PostgresDatabase,
) -> None:
    seeded(postgres_db)
    role = postgres_db.create_role("Reader-Secret-1")

    wrong = engine_for(postgres_db.url_as(role, "not-the-password"))
    with pytest.raises(OperationalError, match=f'password authentication failed for user "{role}"'):
        wrong.connect()

    reader = engine_for(postgres_db.url_as(role, "Reader-Secret-1"))
    with reader.connect() as conn:
        assert logins(conn) == ["jsilva", "mmeier"]
        with pytest.raises(ProgrammingError, match="permission denied for table persons"):
            conn.execute(PERSONS.delete())


def test_a_stopped_cluster_refuses_connections_and_serves_the_same_data_after_start(
    postgres: PostgresCluster, postgres_db: PostgresDatabase
) -> None:
    engine = seeded(postgres_db)
    pooled = sa.create_engine(postgres_db.url, pool_pre_ping=True)
    with pooled.connect() as conn:
        assert logins(conn) == ["jsilva", "mmeier"]
    before = postgres.processes()

    with postgres.down():
        assert alive(before) == []
        assert not port_is_open(postgres.port)
        with pytest.raises(OperationalError, match="Connection refused"):
            engine.connect()

    assert postgres.pid not in before
    with engine.connect() as conn:
        assert logins(conn) == ["jsilva", "mmeier"]
    with pooled.connect() as conn:
        assert logins(conn) == ["jsilva", "mmeier"]
    pooled.dispose()


def test_a_killed_postmaster_leaves_no_backend_and_recovers_committed_rows(
    postgres: PostgresCluster, postgres_db: PostgresDatabase
) -> None:
    engine = seeded(postgres_db)
    with engine.connect() as busy:
        assert logins(busy) == ["jsilva", "mmeier"]
        before = postgres.processes()
        assert len(before) > 3

        postgres.halt("kill")

        assert alive(before) == []
        with pytest.raises(OperationalError):
            busy.execute(sa.select(1))
    postgres.start()
    with engine.connect() as conn:
        assert logins(conn) == ["jsilva", "mmeier"]
    assert "database system was interrupted" in postgres.log.read_text(encoding="utf-8")
