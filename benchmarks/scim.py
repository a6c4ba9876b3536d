"""Benchmark the SCIM target against a local scim2-server, with and without /Bulk.

    .venv/bin/python -m benchmarks.scim --size S

For each mode (single requests, then /Bulk as the server offers it) a fresh
tenant of one scim2-server process gets: the initial push of a generated
shop, a second run over the same source, one changed e-mail, one added
person. Requests are counted by the server itself (its request log), so
they include the lookups and the retries. Prints one row per step and
writes the rows as JSON with --json FILE.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.generate import SIZES, add_one_person, change_one_person, generate
from sync.core.report import Report
from sync.settings import load_settings
from sync.targets.scim.run import run_scim


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def scim2_server(folder: Path) -> Iterator[tuple[int, Path]]:
    """Start scim2-server with dynamic tenants; yield its port and log; stop it by its PID."""
    port = _free_port()
    log = folder / "scim2-server.log"
    command = [str(Path(sys.executable).parent / "scim2-server"), "--port", str(port)]
    with log.open("ab") as out:
        process = subprocess.Popen(
            [*command, "--dynamic-tenants"],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"scim2-server did not start; see {log}") from None
                time.sleep(0.05)
        yield port, log
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(15)


def _requests(log: Path, tenant: str) -> int:
    """Return the requests the server logged for one tenant."""
    marker = f" /{tenant}/"
    return sum(marker in line for line in log.read_text(errors="replace").splitlines())


def _row(name: str, report: Report, wall: float, requests: int) -> dict[str, Any]:
    users = sum(1 for r in report.requests if r["op"] == "create-user")
    operations = len(report.requests)
    return {
        "step": name,
        "outcome": report.outcome.value,
        "wall_s": round(wall, 3),
        "requests": requests,
        "operations": report.counts(),
        "requests_per_s": round(requests / wall, 1) if wall else None,
        "operations_per_s": round(operations / wall, 1) if wall else None,
        "users_created_per_s": round(users / wall, 1) if wall and users else None,
    }


MODES = {"single": (False,), "bulk": (True,), "both": (False, True)}
"""`--mode`: single requests, /Bulk, or one after the other."""


def measure(size: str, folder: Path, mode: str = "both") -> list[dict[str, Any]]:
    """Return the rows of the modes asked for at one size."""
    rows: list[dict[str, Any]] = []
    with scim2_server(folder) as (port, log):
        for bulk in MODES[mode]:
            bench = _Bench(folder, port, log, bulk, rows)
            document = generate(size)
            bench.run("initial push", document)
            bench.run("second run, same source", document)
            change_one_person(document)
            bench.run("one e-mail changed", document)
            add_one_person(document)
            bench.run("one person added", document)
    return rows


class _Bench:
    """One mode of the benchmark: a tenant of its own, its state and its source file."""

    def __init__(
        self, folder: Path, port: int, log: Path, bulk: bool, rows: list[dict[str, Any]]
    ) -> None:
        self.tenant = f"bench{uuid.uuid4().hex[:8]}"
        self.state = folder / f"state-{self.tenant}"
        self.source = folder / f"source-{self.tenant}.json"
        self.url = f"http://127.0.0.1:{port}/{self.tenant}/v2"
        self.log = log
        self.bulk = bulk
        self.rows = rows

    def run(self, name: str, document: dict[str, Any]) -> None:
        """Push `document` once; print and keep its row."""
        self.source.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
        settings = load_settings(
            source={"path": self.source},
            state_dir=self.state,
            targets=["scim"],
            scim={"url": self.url, "bulk": self.bulk},
            safety={"max_deletions": 10**6},
        )
        before = _requests(self.log, self.tenant)
        started = time.perf_counter()
        report = run_scim(settings)
        wall = time.perf_counter() - started
        time.sleep(0.2)  # the server writes its log line after the answer
        row = _row(name, report, wall, _requests(self.log, self.tenant) - before)
        row["bulk"] = self.bulk
        self.rows.append(row)
        print(json.dumps(row, ensure_ascii=False), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="S", choices=sorted(SIZES))
    parser.add_argument("--mode", default="both", choices=sorted(MODES))
    parser.add_argument("--json", type=Path, help="write the rows to this file")
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="scim-bench-") as folder:
        rows = measure(args.size, Path(folder), args.mode)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
