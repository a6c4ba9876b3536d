"""Benchmark portal-sync against raw `ldapadd` on a fresh local slapd, and print a table.

    .venv/bin/python -m benchmarks.run --size S            # a minute
    .venv/bin/python -m benchmarks.run --size M --fsync    # the issue's setting

Every step runs as its own process (`python -m sync run`, `ldapadd`), forked
by benchmarks/peak.py, so wall time and peak RSS are that process's own. LDAP operations are
counted by slapd itself (cn=Monitor), so they include every read. Each step's
row is printed when the step ends; a step that fails ends the benchmark with
its exit code, after the rows measured before it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.generate import SIZES, add_one_person, change_one_person, generate, mutate
from benchmarks.table import Step, Table
from sync.core.change import Op, Reason
from sync.core.report import ExitCode
from sync.ldap.localserver import LocalServer

MONITOR = """dn: olcDatabase=monitor,cn=config
changetype: add
objectClass: olcDatabaseConfig
olcDatabase: monitor
"""
OPERATIONS = ("Search", "Add", "Modify", "Modrdn", "Delete")
STARTS = 5
"""How many times `portal-sync --version` is timed; the row gives the median."""


class StepFailed(Exception):
    """A step's process ended with an exit code the benchmark cannot go on from."""

    def __init__(self, name: str, code: int, output: str) -> None:
        self.code = code if code > 0 else 1
        meaning = ""
        if code in ExitCode.__members__.values():
            meaning = f" ({ExitCode(code).name.lower().replace('_', ' ')})"
        super().__init__(
            f"step '{name}' failed with exit {code}{meaning}; its output ends:\n{output}"
        )


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


def execute(name: str, command: Sequence[str], env: dict[str, str]) -> dict[str, Any]:
    """Run a command as a child of benchmarks/peak.py; return its wall time and peak RSS.

    Exit 0 and 1 (records skipped) count as done; any other code raises
    StepFailed with the end of the command's output.
    """
    with tempfile.TemporaryDirectory() as scratch:
        result = Path(scratch) / "result.json"
        with (Path(scratch) / "output").open("w+") as output:
            process = subprocess.run(
                [*PEAK, str(result), *command], env=env, stdout=output, stderr=subprocess.STDOUT
            )
            output.seek(0)
            text = output.read()
        if process.returncode not in (0, 1):
            raise StepFailed(name, process.returncode, text[-3000:])
        measures: dict[str, Any] = json.loads(result.read_text())
    return measures


def measured(
    slapd: LocalServer,
    key: str,
    name: str,
    command: Sequence[str],
    env: dict[str, str],
    note: str = "",
) -> Step:
    """Run a command as a child process; return its wall time, peak RSS and LDAP operations."""
    before, sent_before = counters(slapd)
    measures = execute(name, command, env)
    after, sent_after = counters(slapd)
    operations = {op: after.get(op, 0) - before.get(op, 0) for op in OPERATIONS}
    operations["Search"] -= 1  # the counters' own search
    # the entries the counters' own search sent are counted in `after`
    sent = sent_after - sent_before - len(after) - 1
    return Step(key, name, measures["wall"], measures["rss_kib"], operations, max(sent, 0), note)


def start_up(env: dict[str, str]) -> Step:
    """Time `portal-sync --version` STARTS times; return the median wall and the largest peak."""
    script = Path(sys.executable).with_name("portal-sync")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "sync"]
    name = f"portal-sync --version (median of {STARTS})"
    runs = [execute(name, [*command, "--version"], env) for _ in range(STARTS)]
    walls = [run["wall"] for run in runs]
    rss = max(run["rss_kib"] for run in runs)
    note = " ".join([*command, "--version"])
    return Step("version", name, statistics.median(walls), rss, {}, 0, note, walls)


def settings_env(slapd: LocalServer, source: Path, state: Path) -> dict[str, str]:
    """Return the settings that point portal-sync at the benchmark's slapd and source."""
    return {
        "PORTAL_SYNC_LDAP__URL": slapd.url,
        "PORTAL_SYNC_LDAP__BIND_DN": slapd.root_dn,
        "PORTAL_SYNC_LDAP__BIND_PASSWORD": slapd.root_pw,
        "PORTAL_SYNC_LDAP__BASE_DN": slapd.suffix,
        "PORTAL_SYNC_SOURCE__PATH": str(source),
        "PORTAL_SYNC_STATE_DIR": str(state),
    }


@contextmanager
def shop_beside_slapd(document: dict[str, Any], prefix: str) -> Iterator[tuple[Path, LocalServer]]:
    """Write the shop as `source.json` into a fresh folder, and start a throwaway slapd.

    Yield the folder and the server; the server is stopped and the folder
    removed when the block ends.
    """
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        work = Path(folder)
        source = work / "source.json"
        source.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
        slapd = LocalServer(fsync=False)
        slapd.start()
        try:
            yield work, slapd
        finally:
            slapd.stop()


def sync_env(slapd: LocalServer, source: Path, state: Path, window: int) -> dict[str, str]:
    """Return the environment of a run against the benchmark's slapd."""
    return {
        **os.environ,
        **settings_env(slapd, source, state),
        "PORTAL_SYNC_PERFORMANCE__WRITE_WINDOW": str(window),
    }


SYNC = [sys.executable, "-m", "sync", "run"]
PAGED = [sys.executable, "-m", "benchmarks.paged"]
PEAK = [sys.executable, "-m", "benchmarks.peak"]


def write(path: Path, document: dict[str, Any]) -> Path:
    """Write a document as JSON; return its path."""
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


def benchmark(
    size: str, seed: int, fsync: bool, window: int, work: Path, table: Table, approve: bool
) -> None:
    """Run every step, handing each step to the table as soon as it is measured.

    The 1 % step carries the approval of the deletions and disables its
    mutation causes, as an administrator would give it after reviewing a dry
    run (`approval`); without `approve` it runs as a plain `portal-sync run`,
    and the deletion guard may hold it (exit 5).
    """
    document = generate(size, seed)
    source = write(work / "source.json", document)
    ldif = work / "reference.ldif"

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
        name = "ldapadd of the dry-run LDIF (reference)"
        table.add(measured(reference, "ldapadd", name, ldapadd, env))
    finally:
        reference.stop()

    slapd = server(fsync)
    try:
        state = work / "state"
        env = sync_env(slapd, source, state, window)
        table.add(measured(slapd, "initial", "initial sync into an empty tree", SYNC, env))
        table.add(measured(slapd, "nochange", "second run, no change", SYNC, env))
        full = [*SYNC, "--full"]
        table.add(measured(slapd, "full", "full reconciliation, no change", full, env))
        name = "bare ldap3 paged search of the managed entries"
        table.add(measured(slapd, "paged", name, PAGED, env))

        person = change_one_person(document)
        write(source, document)
        name = "one person's e-mail changed"
        table.add(measured(slapd, "email", name, SYNC, env, person))

        person = add_one_person(document, seed)
        write(source, document)
        name = "one new person with an account"
        table.add(measured(slapd, "person", name, SYNC, env, person))

        counts = mutate(document, 0.01, seed + 1)
        write(source, document)
        note = ", ".join(f"{n} {what}" for what, n in counts.items())
        command = SYNC
        if approve:
            allowed = approval(env)
            command = [*SYNC, "--allow-deletions", str(allowed)]
            note += f"; its dry run plans {allowed} deletions/disables: --allow-deletions {allowed}"
        table.add(measured(slapd, "mutation", "1 % changed", command, env, note))
        name = "second run after 1 %, no change"
        table.add(measured(slapd, "after", name, SYNC, env))
    finally:
        slapd.stop()
    table.add(start_up(dict(os.environ)))


def approval(env: dict[str, str]) -> int:
    """Return how many deletions and disables the next run plans, from an unmeasured dry run.

    The mutation's own counts are no bound: a group that a removed account
    or a reassigned agency leaves empty is deleted too. The dry run plans
    exactly what the measured run will, and writes nothing (not its state).
    """
    dry = subprocess.run([*SYNC, "--dry-run", "--json"], env=env, capture_output=True, text=True)
    if dry.returncode not in (0, 1, ExitCode.DELETION_GUARD):
        raise StepFailed("1 % changed (its dry run)", dry.returncode, dry.stderr[-3000:])
    report: dict[str, Any] = json.loads(dry.stdout)
    planned = sum(map(destructive, report.get("changes", ())))
    return max(planned, len(report.get("pending_destructive", ())))


def destructive(change: dict[str, Any]) -> bool:
    """Return whether a change of a JSON report deletes or disables an entry (`is_destructive`)."""
    disables = change["op"] == Op.RENAME and change.get("reason") == Reason.DISABLE
    return bool(change["op"] == Op.DELETE or disables)


def commit() -> str:
    """Return the checked-out commit, or "" outside a git work tree."""
    found = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=Path(__file__).parent,
        capture_output=True,
        text=True,
    )
    return found.stdout.strip() if found.returncode == 0 else ""


def main() -> None:
    """Run the benchmark, printing each step's row as it ends, then the figures."""
    parser = argparse.ArgumentParser(description="Benchmark portal-sync against ldapadd.")
    parser.add_argument("--size", default="S", choices=sorted(SIZES))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fsync", action="store_true", help="slapd fsyncs every write")
    parser.add_argument("--window", type=int, default=64, help="performance.write_window")
    parser.add_argument(
        "--json", type=Path, help="also write the rows and figures here, after every step"
    )
    parser.add_argument(
        "--no-approval",
        action="store_true",
        help="run the 1 %% step without --allow-deletions (the deletion guard may hold it)",
    )
    args = parser.parse_args()
    mode = "fsync on" if args.fsync else "dbnosync"
    meta = {
        "size": args.size,
        "seed": args.seed,
        "fsync": args.fsync,
        "window": args.window,
        "commit": commit(),
        "load_average": os.getloadavg()[0],
    }
    table = Table(sys.stdout, args.json, meta)
    table.head(
        f"size {args.size}, seed {args.seed}, slapd mdb {mode}, write window {args.window}, "
        f"commit {meta['commit'] or '?'}, load average {meta['load_average']:.1f} at start"
    )
    try:
        with tempfile.TemporaryDirectory(prefix="portal-sync-bench-") as work:
            benchmark(
                args.size,
                args.seed,
                args.fsync,
                args.window,
                Path(work),
                table,
                not args.no_approval,
            )
    except StepFailed as failed:
        table.finish()
        print(failed, file=sys.stderr, flush=True)
        sys.exit(failed.code)
    table.finish()


if __name__ == "__main__":
    main()
