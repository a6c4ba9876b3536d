"""Time the source side of a run stage by stage, in one process: CPU seconds and peak RSS.

    .venv/bin/python -m benchmarks.generate --size M --seed 1 -o m.json
    .venv/bin/python -m benchmarks.stages m.json

CPU time (`time.process_time`) is this process's own, so it varies much
less than wall time on a machine shared with other work; peak RSS is read
after each stage (`ru_maxrss`, so it never goes down).
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from sync.core.desired import build_desired
from sync.core.digest import desired_digests
from sync.core.mapping import Mapping
from sync.ldap.flavour import load_mapping
from sync.run.prepare import gc_paused, judged
from sync.settings import Settings
from sync.sources.document import read_document


def main() -> None:
    """Print one line per stage: CPU s, wall s, peak RSS MiB."""
    parser = argparse.ArgumentParser(description="Time the source side of a run.")
    parser.add_argument("source", type=Path)
    parser.add_argument("--gc", action="store_true", help="leave the garbage collector on")
    args = parser.parse_args()
    if args.gc:
        _stages(args.source)
    else:
        with gc_paused():
            _stages(args.source)


def _stages(source: Path) -> None:
    settings = Settings(source={"path": source})
    mapping: Mapping = load_mapping(settings.mapping.path)
    rows: list[tuple[str, float, float, float]] = []
    cpu, wall = time.process_time(), time.perf_counter()

    def mark(name: str) -> None:
        nonlocal cpu, wall
        now_cpu, now_wall = time.process_time(), time.perf_counter()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rows.append((name, now_cpu - cpu, now_wall - wall, rss))
        cpu, wall = now_cpu, now_wall

    loaded = read_document(source)
    mark("read, parse and validate the document")
    verdicts = judged(loaded, settings.rules)
    mark("verdicts (the business rules and the grants)")
    grants = verdicts.grants(loaded.quarantine.kinds)
    loaded.raw = None
    mark("grants gathered")
    desired = build_desired(verdicts, settings.tree, mapping, loaded.quarantine, grants)
    mark("desired entries")
    desired_digests(desired)
    mark(f"digests of {len(desired.entries):,} entries")
    print("| stage | CPU s | wall s | peak RSS MiB |")
    print("|---|---|---|---|")
    for name, cpu_s, wall_s, rss in rows:
        print(f"| {name} | {cpu_s:.2f} | {wall_s:.2f} | {rss:.0f} |")


if __name__ == "__main__":
    main()
