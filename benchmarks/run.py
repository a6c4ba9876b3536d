"""Benchmark portal-sync against raw `ldapadd` on a fresh local slapd, and print a table.

    .venv/bin/python -m benchmarks.run --size S            # a minute
    .venv/bin/python -m benchmarks.run --size M --fsync    # the issue's setting

Every step runs as its own process (`python -m sync run`, `ldapadd`), forked
by benchmarks/peak.py, so wall time and peak RSS are that process's own. LDAP operations are
counted by slapd itself (cn=Monitor), so they include every read.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.generate import SIZES, add_one_person, change_one_person, generate, mutate
from sync.ldap.localserver import LocalServer

MONITOR = """dn: olcDatabase=monitor,cn=config
changetype: add
objectClass: olcDatabaseConfig
olcDatabase: monitor
"""
OPERATIONS = ("Search", "Add", "Modify", "Modrdn", "Delete")


@dataclass
class Step:
    """One measured step of the benchmark."""

    name: str
    wall: float
    rss_kib: int
    operations: dict[str, int]
    entries_sent: int
    note: str = ""

    @property
    def writes(self) -> int:
        """Return the number of write operations."""
        return sum(self.operations.get(op, 0) for op in ("Add", "Modify", "Modrdn", "Delete"))

    @property
    def rate(self) -> float:
        """Return entries written per second, or read per second when it wrote (almost) nothing.

        A run's lease in the directory costs a few writes of its own; below
        100 writes a step counts as a read.
        """
        count = self.writes if self.writes >= 100 else self.entries_sent
        return count / self.wall if self.wall else 0.0


def server(fsync: bool) -> LocalServer:
    """Return a started fresh slapd with the monitor database."""
    started = LocalServer(fsync=fsync, config_changes=(MONITOR,))
    started.start()
    return started


def counters(slapd: LocalServer) -> tuple[dict[str, int], int]:
    """Return slapd's completed operations by type, and the entries it has sent."""
    search = ["ldapsearch", "-LLL", "-H", slapd.ldapi_uri, "-Y", "EXTERNAL", "-Q"]
    found = subprocess.run(
        [
            *search,
            "-b",
            "cn=Monitor",
            "(|(objectClass=monitorOperation)(objectClass=monitorCounterObject))",
            "monitorOpCompleted",
            "monitorCounter",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    operations: dict[str, int] = {}
    entries = 0
    dn = ""
    for line in found.splitlines():
        if line.startswith("dn: "):
            dn = line[4:]
        elif line.startswith("monitorOpCompleted: ") and dn.startswith("cn="):
            operations[dn.split(",")[0][3:]] = int(line.split(": ")[1])
        elif line.startswith("monitorCounter: ") and dn.startswith("cn=Entries,cn=Statistics"):
            entries = int(line.split(": ")[1])
    return operations, entries


def measured(
    slapd: LocalServer, name: str, command: Sequence[str], env: dict[str, str], note: str = ""
) -> Step:
    """Run a command as a child process; return its wall time, peak RSS and LDAP operations."""
    before, sent_before = counters(slapd)
    with tempfile.TemporaryDirectory() as scratch:
        result = Path(scratch) / "result.json"
        with (Path(scratch) / "stderr").open("w+") as err:
            process = subprocess.run(
                [*PEAK, str(result), *command], env=env, stdout=subprocess.DEVNULL, stderr=err
            )
            err.seek(0)
            stderr = err.read()
        measures = json.loads(result.read_text())
    if process.returncode not in (0, 1):
        raise RuntimeError(f"{name}: exit {process.returncode}: {stderr[-2000:]}")
    after, sent_after = counters(slapd)
    operations = {op: after.get(op, 0) - before.get(op, 0) for op in OPERATIONS}
    operations["Search"] -= 1  # the counters' own search
    # the entries the counters' own search sent are counted in `after`
    sent = sent_after - sent_before - len(after) - 1
    return Step(name, measures["wall"], measures["rss_kib"], operations, max(sent, 0), note)


def sync_env(slapd: LocalServer, source: Path, state: Path, window: int) -> dict[str, str]:
    """Return the environment that points portal-sync at the benchmark's slapd."""
    return {
        **os.environ,
        "PORTAL_SYNC_LDAP__URL": slapd.url,
        "PORTAL_SYNC_LDAP__BIND_DN": slapd.root_dn,
        "PORTAL_SYNC_LDAP__BIND_PASSWORD": slapd.root_pw,
        "PORTAL_SYNC_LDAP__BASE_DN": slapd.suffix,
        "PORTAL_SYNC_SOURCE__PATH": str(source),
        "PORTAL_SYNC_STATE_DIR": str(state),
        "PORTAL_SYNC_PERFORMANCE__WRITE_WINDOW": str(window),
    }


SYNC = [sys.executable, "-m", "sync", "run"]
PAGED = [sys.executable, "-m", "benchmarks.paged"]
PEAK = [sys.executable, "-m", "benchmarks.peak"]


def write(path: Path, document: dict[str, Any]) -> Path:
    """Write a document as JSON; return its path."""
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


def benchmark(size: str, seed: int, fsync: bool, window: int, work: Path) -> list[Step]:
    """Run every step; return the measurements."""
    document = generate(size, seed)
    source = write(work / "source.json", document)
    ldif = work / "reference.ldif"
    steps: list[Step] = []

    reference = server(fsync)
    try:
        env = sync_env(reference, source, work / "dry-state", window)
        env["PORTAL_SYNC_PERFORMANCE__INCREMENTAL"] = "false"
        subprocess.run(
            [*SYNC, "--dry-run", "--ldif", str(ldif)],
            env=env,
            check=True,
            capture_output=True,
        )
        ldapadd = ["ldapadd", "-x", "-H", reference.url, "-D", reference.root_dn]
        ldapadd += ["-w", reference.root_pw, "-f", str(ldif)]
        steps.append(measured(reference, "ldapadd of the dry-run LDIF (reference)", ldapadd, env))
    finally:
        reference.stop()

    slapd = server(fsync)
    try:
        state = work / "state"
        env = sync_env(slapd, source, state, window)
        steps.append(measured(slapd, "initial sync into an empty tree", SYNC, env))
        steps.append(measured(slapd, "second run, no change", SYNC, env))
        steps.append(measured(slapd, "full reconciliation, no change", [*SYNC, "--full"], env))
        steps.append(measured(slapd, "bare ldap3 paged search of the managed entries", PAGED, env))

        person = change_one_person(document)
        write(source, document)
        steps.append(measured(slapd, "one person's e-mail changed", SYNC, env, person))

        person = add_one_person(document, seed)
        write(source, document)
        steps.append(measured(slapd, "one new person with an account", SYNC, env, person))

        counts = mutate(document, 0.01, seed + 1)
        write(source, document)
        note = ", ".join(f"{n} {what}" for what, n in counts.items())
        steps.append(measured(slapd, "1 % changed", SYNC, env, note))
        steps.append(measured(slapd, "second run after 1 %, no change", SYNC, env))
    finally:
        slapd.stop()
    return steps


def table(steps: list[Step]) -> str:
    """Return the measurements as a Markdown table."""
    reference = steps[0]
    managed = reference.operations["Add"]
    head = (
        "| step | wall s | search | entries read | add | modify | modrdn | delete "
        "| entries/s | x ref speed | x ref time | peak RSS MiB | RSS B/entry |"
    )
    lines = [head, "|" + "---|" * 13]
    for step in steps:
        ops = step.operations
        speed = step.rate / reference.rate if step.writes >= 100 and reference.rate else None
        lines.append(
            f"| {step.name} | {step.wall:.2f} | {ops['Search']} | {step.entries_sent} "
            f"| {ops['Add']} | {ops['Modify']} | {ops['Modrdn']} | {ops['Delete']} "
            f"| {step.rate:,.0f} | {f'{speed:.2f}' if speed else '-'} "
            f"| {step.wall / reference.wall:.2f} | {step.rss_kib / 1024:.0f} "
            f"| {step.rss_kib * 1024 / managed:,.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description="Benchmark portal-sync against ldapadd.")
    parser.add_argument("--size", default="S", choices=sorted(SIZES))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fsync", action="store_true", help="slapd fsyncs every write")
    parser.add_argument("--window", type=int, default=64, help="performance.write_window")
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="portal-sync-bench-") as work:
        steps = benchmark(args.size, args.seed, args.fsync, args.window, Path(work))
    mode = "fsync on" if args.fsync else "dbnosync"
    print(f"size {args.size}, seed {args.seed}, slapd mdb {mode}, write window {args.window}")
    for step in steps:
        if step.note:
            print(f"  {step.name}: {step.note}")
    print(table(steps))
    if args.json:
        data = [step.__dict__ for step in steps]
        args.json.write_text(json.dumps(data, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
