"""Run the benchmark at several sizes one after the other, and show how each figure grows.

    .venv/bin/python -m benchmarks.growth                        # S, then M, then L (hours)
    .venv/bin/python -m benchmarks.growth --sizes S,M --keep runs/
    .venv/bin/python -m benchmarks.growth --from s.json m.json l.json   # compare saved runs

Each size is a `benchmarks.run --size X --json FILE` of its own, whose rows
stream through as they are measured. The comparison puts every figure side
by side and gives, per step from one size to the next, the factor it grew by
and its growth exponent against the managed entries: 0 is a figure that
stays flat (it follows the change), 1 one that grows with the shop.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.generate import SIZES

Run = dict[str, Any]


def managed(run: Run) -> int:
    """Return the managed entries of a run (the reference's adds), 0 when it has none."""
    for step in run["steps"]:
        if step["key"] == "ldapadd":
            return int(step["operations"].get("Add", 0))
    return 0


def growth(before: float | None, after: float | None, entries: tuple[int, int]) -> str:
    """Return "x factor (exponent)" from one size to the next, or "-" when it cannot be told."""
    if not before or not after or before <= 0 or after <= 0:
        return "-"
    factor = after / before
    if entries[0] <= 0 or entries[1] <= entries[0]:
        return f"x{factor:.2f}"
    exponent = math.log(factor) / math.log(entries[1] / entries[0])
    return f"x{factor:.2f} ({exponent:.2f})"


def figures(run: Run) -> dict[str, float]:
    """Return a run's figures by name: each step's wall and peak RSS, and the target figures."""
    found: dict[str, float] = {}
    for step in run["steps"]:
        found[f"{step['name']}: wall s"] = step["wall"]
        found[f"{step['name']}: peak RSS MiB"] = step["rss_kib"] / 1024
    for figure in run.get("summary", ()):
        found[figure["figure"]] = figure["value"]
    return found


def comparison(runs: list[Run]) -> list[str]:
    """Return a Markdown table of every figure across the runs, with its growth per size step."""
    sizes = [run["size"] for run in runs]
    entries = [managed(run) for run in runs]
    measured = [figures(run) for run in runs]
    names: list[str] = []
    for found in measured:
        names.extend(name for name in found if name not in names)
    pairs = list(zip(range(len(runs) - 1), range(1, len(runs)), strict=True))
    head = ["figure", *sizes, *(f"{sizes[a]} to {sizes[b]}" for a, b in pairs)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    cells = ["managed entries", *(f"{n:,}" for n in entries)]
    cells += [growth(entries[a], entries[b], (0, 0)) for a, b in pairs]
    lines.append("| " + " | ".join(cells) + " |")
    for name in names:
        values = [found.get(name) for found in measured]
        cells = [name, *("-" if value is None else f"{value:,.2f}" for value in values)]
        cells += [growth(values[a], values[b], (entries[a], entries[b])) for a, b in pairs]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def run_sizes(sizes: list[str], keep: Path, options: list[str]) -> tuple[list[Path], int]:
    """Run the benchmark at each size in turn; return the saved JSON files and the exit code.

    A size that fails stops the series (the larger ones would fail as well);
    its JSON file keeps the rows measured before the failure.
    """
    saved: list[Path] = []
    for size in sizes:
        path = keep / f"{size}.json"
        command = [sys.executable, "-m", "benchmarks.run", "--size", size, "--json", str(path)]
        print(f"\n## size {size}\n", flush=True)
        code = subprocess.run([*command, *options]).returncode
        if path.exists():
            saved.append(path)
        if code != 0:
            return saved, code
    return saved, 0


def main() -> None:
    """Run (or load) the benchmark at several sizes and print how each figure grows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="S,M,L", help="comma-separated, smallest first")
    parser.add_argument("--from", dest="saved", type=Path, nargs="+", help="compare these runs")
    parser.add_argument("--keep", type=Path, help="keep each size's JSON file in this folder")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fsync", action="store_true", help="slapd fsyncs every write")
    parser.add_argument("--window", type=int, default=64, help="performance.write_window")
    args = parser.parse_args()
    code = 0
    with tempfile.TemporaryDirectory(prefix="portal-sync-growth-") as scratch:
        if args.saved:
            paths = list(args.saved)
        else:
            sizes = [size.strip() for size in args.sizes.split(",") if size.strip()]
            unknown = [size for size in sizes if size not in SIZES]
            if unknown:
                parser.error(f"unknown size {', '.join(unknown)}; sizes are {', '.join(SIZES)}")
            keep = args.keep or Path(scratch)
            keep.mkdir(parents=True, exist_ok=True)
            options = ["--seed", str(args.seed), "--window", str(args.window)]
            options += ["--fsync"] if args.fsync else []
            paths, code = run_sizes(sizes, keep, options)
        runs = [json.loads(path.read_text(encoding="utf-8")) for path in paths]
    if runs:
        print(
            "\nHow each figure grows from one size to the next: x factor, and in brackets its"
            "\ngrowth exponent against the managed entries (0 stays flat, 1 grows with the shop).\n"
        )
        print("\n".join(comparison(runs)), flush=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
