"""Where the time of a run goes: py-spy samples of an initial sync and of a one-change run.

    .venv/bin/pip install py-spy
    .venv/bin/python -m benchmarks.profile --size M

The shop of the size is generated and synced into a fresh slapd with
`portal-sync run` under `py-spy record`, then one person's e-mail is
changed and the next run is sampled the same way, and last a full
reconciliation with nothing to change (`run --full`). Each table gives, for the
functions of `sync` that hold at least `--share` of the samples, the
seconds of samples with that function on the stack (inclusive) and their
share of the run; imports are one line. A sampling profile of a separate
process sees the whole run, C code included, without slowing it down the
way cProfile does; the shares are steadier than the seconds on a busy
machine, and the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from benchmarks.generate import change_one_person, generate
from benchmarks.run import settings_env, shop_beside_slapd

_FRAME = re.compile(r"(?P<function>.*) \((?P<file>.*?):\d+\)$")


def inclusive(raw: str) -> tuple[Counter[str], int]:
    """Return the samples each function of `sync` was on the stack for, and all samples.

    `raw` is py-spy's `--format raw` output: one stack a line, frames joined
    by ";", the sample count last. A stack inside an import counts as "(imports)".
    """
    found: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
        total += samples
        if "_find_and_load" in stack:
            found["(imports)"] += samples
            continue
        names = set()
        for frame in stack.split(";"):
            match = _FRAME.match(frame.strip())
            if match is None or match["function"] == "<module>":
                continue
            file = match["file"]
            if file.startswith("sync/") or "/sync/" in file:
                names.add(file.split("sync/", 1)[1] + ":" + match["function"])
        for name in names:
            found[name] += samples
    return found, total


def table(raw: str, rate: int, share: float) -> str:
    """Return the Markdown table of the functions holding at least `share` of the samples."""
    found, total = inclusive(raw)
    lines = [
        f"{total / rate:.1f} s sampled",
        "",
        "| s | share | function |",
        "| ---: | ---: | --- |",
    ]
    for name, samples in found.most_common():
        if samples < share * total:
            break
        lines.append(f"| {samples / rate:.2f} | {100 * samples / total:.0f} % | `{name}` |")
    return "\n".join(lines)


def sampled(env: dict[str, str], rate: int, output: Path, *options: str) -> str:
    """Run `portal-sync run` (with `options`) under py-spy and return its raw samples."""
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    command = [spy, "record", "--format", "raw", "--rate", str(rate), "-o", str(output)]
    command += ["--", sys.executable, "-m", "sync", "run", *options]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the sampled run failed ({done.returncode}): {done.stderr[-2000:]}")
    return output.read_text(encoding="utf-8")


def main() -> None:
    """Generate, sync, change one e-mail, sync again; print where each run's time went."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="M")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate", type=int, default=50, help="samples per second")
    parser.add_argument("--share", type=float, default=0.03, help="smallest share shown")
    arguments = parser.parse_args()
    print("load average at the start: " + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    document = generate(arguments.size, arguments.seed)
    with shop_beside_slapd(document, "profile-") as (work, slapd):
        source = work / "source.json"
        env = {**os.environ, **settings_env(slapd, source, work / "state")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # a run as installed: compiled modules
        raw = sampled(env, arguments.rate, work / "initial.txt")
        print(f"\n## initial sync, size {arguments.size}\n")
        print(table(raw, arguments.rate, arguments.share), flush=True)
        person = change_one_person(document)
        source.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
        raw = sampled(env, arguments.rate, work / "change.txt")
        print(f"\n## one person's e-mail changed ({person}), size {arguments.size}\n")
        print(table(raw, arguments.rate, arguments.share), flush=True)
        raw = sampled(env, arguments.rate, work / "full.txt", "--full")
        print(f"\n## full reconciliation, no change, size {arguments.size}\n")
        print(table(raw, arguments.rate, arguments.share))
    print("\nload average at the end: " + " ".join(f"{v:.2f}" for v in os.getloadavg()))


if __name__ == "__main__":
    main()
