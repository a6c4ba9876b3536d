"""Measure how long a person added to the source document takes to appear in the directory.

Starts a throwaway slapd and `portal-sync daemon` with its default schedule
and change-trigger settings, then adds one person at a time to the source
document and polls the directory (every 20 ms) until the person's entry
is there. Prints every latency and min/median/max. The run time grows with
the document, so `--persons` adds that many bulk contact persons.

    .venv/bin/python benchmarks/trigger_latency.py [--samples 10] [--persons 0]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

from sync.ldap.directory import Directory
from sync.ldap.localserver import LocalServer
from sync.service.history import History
from sync.settings import LdapSettings


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


def main() -> None:
    """Measure and print the latencies."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--persons", type=int, default=0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="portal-sync-latency-"))
    source = work / "source.json"
    document = seed_with(args.persons)
    source.write_text(json.dumps(document), encoding="utf-8")
    with LocalServer() as server:
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
            PORTAL_SYNC_SOURCE__PATH=str(source),
            PORTAL_SYNC_STATE_DIR=str(work / "state"),
            PORTAL_SYNC_HTTP__PORT=str(port),
            PORTAL_SYNC_LOGGING__LEVEL="WARNING",
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
                    document["customers"][0]["persons"].append(
                        {
                            "id": f"L-{n}",
                            "last_name": login,
                            "contact_types": ["ct-fab"],
                            "account": {"login": login},
                        }
                    )
                    dn = f"uid={login},ou=external,{server.suffix}"
                    written = time.monotonic()
                    source.write_text(json.dumps(document), encoding="utf-8")
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
        f"persons in document: {len(document['internal_users'])} internal + "
        f"{sum(len(c['persons']) for c in document['customers'])} contact persons; "
        f"samples: {len(latencies)}; latency min {min(latencies):.2f} s, "
        f"median {statistics.median(latencies):.2f} s, max {max(latencies):.2f} s; "
        f"of which the run itself (median of {len(runs)} runs): "
        f"{statistics.median(runs):.2f} s; daemon exit code {code}"
    )


if __name__ == "__main__":
    main()
