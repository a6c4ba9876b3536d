"""Measure what refusing junk, and reading a large YAML export, costs: wall time and peak RSS.

Each case runs `portal-sync check` in its own process (benchmarks/peak.py),
with settings that stop before any directory access for junk: the source is
read and refused first.

    .venv/bin/python -m benchmarks.junk_source [--megabytes 50] [--persons 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from benchmarks.trigger_latency import seed_with


def _junk(path: Path, megabytes: int) -> None:
    line = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\n"
    with path.open("w", encoding="utf-8") as stream:
        stream.write(line * (megabytes * 1024 * 1024 // len(line)))


def _measure(source: Path, folder: Path) -> dict[str, float]:
    """Return wall seconds, peak RSS in MiB and the exit code of reading `source` once."""
    result = folder / "peak.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_SYNC_")}
    env.update(
        PORTAL_SYNC_SOURCE__PATH=str(source),
        PORTAL_SYNC_STATE_DIR=str(folder / "state"),
        PORTAL_SYNC_LDAP__URL="ldap://127.0.0.1:1",
        PORTAL_SYNC_LDAP__TIMEOUT="1",
    )
    command = [sys.executable, "-m", "sync", "check"]
    subprocess.run(
        [sys.executable, "-m", "benchmarks.peak", str(result), *command],
        env=env,
        capture_output=True,
        check=False,
    )
    data = json.loads(result.read_text())
    return {
        "wall_s": round(data["wall"], 2),
        "rss_mib": data["rss_kib"] // 1024,
        "exit": data["code"],
    }


def main() -> None:
    """Print one JSON line per case."""
    options = argparse.ArgumentParser(description=__doc__)
    options.add_argument("--megabytes", type=int, default=50)
    options.add_argument("--persons", type=int, default=20000)
    args = options.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        junk = folder / "junk.yaml"
        _junk(junk, args.megabytes)
        print(json.dumps({"case": f"{args.megabytes} MB junk YAML", **_measure(junk, folder)}))
        export = folder / "export.yaml"
        export.write_text(yaml.safe_dump(seed_with(args.persons), allow_unicode=True))
        size = export.stat().st_size // (1024 * 1024)
        case = f"valid YAML, {args.persons} persons, {size} MiB"
        print(json.dumps({"case": case, **_measure(export, folder)}))


if __name__ == "__main__":
    main()
