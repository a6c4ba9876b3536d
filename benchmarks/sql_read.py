"""Compare reading a source from PostgreSQL with reading the same structure from JSON.

Generates a document (benchmarks/generate.py, size M by default), writes it
as JSON, loads it into the example workflow schema on a throwaway
PostgreSQL, and reads each source in a fresh process measured by
benchmarks/peak.py (wall time and peak RSS of the whole process, the
interpreter included). Prints every repetition and the medians, and the
ratio SQL / JSON of both.

    .venv/bin/python -m benchmarks.sql_read [--size M] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.generate import generate
from benchmarks.workflow_db import QUERIES, READER_PASSWORD, postgres, workflow_database


def read(kind: str, where: str) -> None:
    """Read one source as a run does and print what it found (the measured child)."""
    from sync.settings import load_settings
    from sync.sources.reader import source_of

    source: dict[str, object]
    if kind == "json":
        source = {"path": where}
    else:
        sql = {"url": where, "password": READER_PASSWORD, "queries": str(QUERIES)}
        source = {"kind": "sql", "sql": sql}
    loaded = source_of(load_settings(source=source).source).load()
    persons = sum(len(customer.persons) for customer in loaded.document.customers)
    print(
        f"{kind}: {len(loaded.document.customers)} customers, {persons} persons, "
        f"{len(loaded.document.orders)} orders, {len(loaded.errors)} record errors",
        flush=True,
    )


def measure(kind: str, where: str, work: Path) -> tuple[float, int]:
    """Return wall seconds and peak RSS (KiB) of reading one source in a fresh process."""
    result = work / f"{kind}.json"
    subprocess.run(
        [
            *(sys.executable, "-m", "benchmarks.peak", str(result)),
            *(sys.executable, "-m", "benchmarks.sql_read", "--read", kind, where),
        ],
        check=True,
    )
    measured = json.loads(result.read_text(encoding="utf-8"))
    return float(measured["wall"]), int(measured["rss_kib"])


def main() -> None:
    """Load, measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="M")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--read", nargs=2, metavar=("KIND", "WHERE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.read:
        read(*args.read)
        return
    work = Path(tempfile.mkdtemp(prefix="portal-sync-sql-read-"))
    document = generate(args.size, seed=1)
    path = work / "source.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    print(f"size {args.size}: JSON {path.stat().st_size / 1e6:.1f} MB", flush=True)
    with postgres() as cluster:
        started = time.perf_counter()
        url, _, counts = workflow_database(cluster, document)
        print(
            f"loaded into PostgreSQL in {time.perf_counter() - started:.1f} s: {counts}", flush=True
        )
        results: dict[str, list[tuple[float, int]]] = {"json": [], "sql": []}
        for _ in range(args.repeat):
            for kind, where in (("json", str(path)), ("sql", url)):
                wall, rss = measure(kind, where, work)
                results[kind].append((wall, rss))
                print(f"  {kind}: {wall:.2f} s, peak RSS {rss / 1024:.0f} MiB", flush=True)
    medians = {
        kind: (statistics.median(w for w, _ in runs), statistics.median(r for _, r in runs))
        for kind, runs in results.items()
    }
    (json_wall, json_rss), (sql_wall, sql_rss) = medians["json"], medians["sql"]
    print(
        f"median of {args.repeat}: JSON {json_wall:.2f} s / {json_rss / 1024:.0f} MiB, "
        f"PostgreSQL {sql_wall:.2f} s / {sql_rss / 1024:.0f} MiB; "
        f"SQL/JSON time {sql_wall / json_wall:.2f}x, memory {sql_rss / json_rss:.2f}x"
    )


if __name__ == "__main__":
    main()
