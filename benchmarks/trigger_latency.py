"""Measure how long a person added to the source takes to appear in the directory.

Starts a throwaway slapd and `portal-sync daemon` with its default schedule
and change-trigger settings, then adds one person at a time to the source
and polls the directory (every 20 ms) until the person's entry is there.
Prints every latency and min/median/max. The run time grows with the
document, so `--persons` adds that many bulk contact persons.

`--kind` picks the source: the JSON file (`file`); the example workflow
database on a throwaway PostgreSQL watched by its change query (`sql`,
polled every source.sql.poll_interval, default 2 s) or by LISTEN/NOTIFY
(`sql-notify`); the document served over HTTP and watched by conditional
requests (`http`, every source.http.poll_interval, default 2 s). The
PostgreSQL and HTTP servers are the test suite's (tests/servers).

    .venv/bin/python -m benchmarks.trigger_latency [--kind file] [--samples 10] [--persons 0]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.workflow_db import QUERIES, READER_PASSWORD, ROOT, postgres, workflow_database
from sync.ldap.directory import Directory
from sync.ldap.localserver import LocalServer
from sync.service.history import History
from sync.settings import LdapSettings

KINDS = ("file", "sql", "sql-notify", "http")


def seed_with(persons: int) -> dict[str, Any]:
    """Return the seed scenario with `persons` extra contact persons in bulk customers."""
    text = resources.files("sync.examples").joinpath("seed-scenario.json").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    for n in range(persons // 10):
        document["customers"].append(
            {
                "id": f"9{n:05d}",
                "name": f"Bulk {n}",
                "remote_access": True,
                "contact_types": [{"id": "customer"}, {"id": "buy"}],
                "persons": [
                    {
                        "id": f"B-{n}-{k}",
                        "last_name": f"Bulk{n}x{k}",
                        "contact_types": ["buy"],
                        "account": {"login": f"bulk{n}x{k}"},
                    }
                    for k in range(10)
                ],
            }
        )
    return document


def free_port() -> int:
    """Return a free loopback port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Feed:
    """The source the daemon reads, and how one more person gets into it."""

    def __init__(self, kind: str, document: dict[str, Any], work: Path, stack: ExitStack) -> None:
        self.kind = kind
        self.document = document
        self.env: dict[str, str] = {}
        self.path = work / "source.json"
        if kind == "file":
            self.path.write_text(json.dumps(document), encoding="utf-8")
            self.env["PORTAL_SYNC_SOURCE__PATH"] = str(self.path)
        elif kind == "http":
            sys.path.insert(0, str(ROOT / "tests"))
            server = importlib.import_module("servers.httpserver").SourceServer()
            server.start()
            stack.callback(server.stop)
            self.server = server
            server.publish("/export.json", document)
            self.env["PORTAL_SYNC_SOURCE__KIND"] = "http"
            self.env["PORTAL_SYNC_SOURCE__HTTP__URL"] = server.url_for("/export.json")
        else:
            cluster = stack.enter_context(postgres())
            url, name, _ = workflow_database(cluster, document)
            self.conninfo: str = cluster.conninfo(name)
            self.env.update(
                PORTAL_SYNC_SOURCE__KIND="sql",
                PORTAL_SYNC_SOURCE__SQL__URL=url,
                PORTAL_SYNC_SOURCE__SQL__PASSWORD=READER_PASSWORD,
                PORTAL_SYNC_SOURCE__SQL__QUERIES=str(QUERIES),
            )
            if kind == "sql-notify":
                self.env["PORTAL_SYNC_SOURCE__SQL__NOTIFY_CHANNEL"] = "portal_sync"
                self.env["PORTAL_SYNC_SOURCE__SQL__POLL_INTERVAL"] = "0"

    def add(self, n: int, login: str) -> None:
        """Add a person with a portal account to the first customer, as the source would."""
        if self.kind.startswith("sql"):
            with psycopg.connect(self.conninfo) as connection:  # one transaction, committed at exit
                connection.execute(
                    "INSERT INTO contact (contact_no, company_no, family_name) VALUES (%s, %s, %s)",
                    (f"L-{n}", "10001", login),
                )
                connection.execute(
                    "INSERT INTO contact_department (contact_no, company_no, dept_code) "
                    "VALUES (%s, '10001', 'ct-fab')",
                    (f"L-{n}",),
                )
                connection.execute(
                    "INSERT INTO web_login (contact_no, user_name) VALUES (%s, %s)",
                    (f"L-{n}", login),
                )
            return
        self.document["customers"][0]["persons"].append(
            {
                "id": f"L-{n}",
                "last_name": login,
                "contact_types": ["ct-fab"],
                "account": {"login": login},
            }
        )
        if self.kind == "http":
            self.server.publish("/export.json", self.document)
        else:
            self.path.write_text(json.dumps(self.document), encoding="utf-8")


def main() -> None:
    """Measure and print the latencies."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=KINDS, default="file")
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--persons", type=int, default=0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="portal-sync-latency-"))
    document = seed_with(args.persons)
    at_start = sum(len(c["persons"]) for c in document["customers"])
    with ExitStack() as stack:
        feed = Feed(args.kind, document, work, stack)
        server = stack.enter_context(LocalServer())
        ldap = LdapSettings(
            url=server.url,
            bind_dn=server.root_dn,
            bind_password=server.root_pw,
            base_dn=server.suffix,
        )
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_SYNC_")}
        env.update(
            PORTAL_SYNC_LDAP__URL=server.url,
            PORTAL_SYNC_LDAP__BIND_DN=server.root_dn,
            PORTAL_SYNC_LDAP__BIND_PASSWORD=server.root_pw,
            PORTAL_SYNC_LDAP__BASE_DN=server.suffix,
            PORTAL_SYNC_STATE_DIR=str(work / "state"),
            PORTAL_SYNC_HTTP__PORT=str(port),
            PORTAL_SYNC_LOGGING__LEVEL="WARNING",
            **feed.env,
        )
        daemon = subprocess.Popen([sys.executable, "-m", "sync", "daemon"], env=env, cwd=work)
        try:
            with Directory.open(ldap) as directory:
                first = "uid=cdubois,ou=external," + server.suffix
                while not directory.exists(first):
                    time.sleep(0.05)
                time.sleep(1)
                latencies = []
                for n in range(args.samples):
                    login = f"latency{n}"
                    dn = f"uid={login},ou=external,{server.suffix}"
                    written = time.monotonic()
                    feed.add(n, login)
                    while not directory.exists(dn):
                        time.sleep(0.02)
                    latencies.append(time.monotonic() - written)
                    print(f"{login}: {latencies[-1]:.2f} s", flush=True)
                    time.sleep(0.5)
        finally:
            daemon.send_signal(signal.SIGTERM)
            code = daemon.wait(60)
    runs = [r["duration_seconds"] for r in History(work / "state", 1000).reports()[1:]]
    print(
        f"source {args.kind}: {len(document['internal_users'])} internal + "
        f"{at_start} contact persons at start; "
        f"samples: {len(latencies)}; latency min {min(latencies):.2f} s, "
        f"median {statistics.median(latencies):.2f} s, max {max(latencies):.2f} s; "
        f"of which the run itself (median of {len(runs)} runs): "
        f"{statistics.median(runs):.2f} s; daemon exit code {code}"
    )


if __name__ == "__main__":
    main()
