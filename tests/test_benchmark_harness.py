"""The benchmark harness at size XS: every row printed, the mutation step past the guard.

The deletion guard holds any run that deletes or disables more than
`safety.max_deletions` entries; size L's 1 % step passes the default limit
of 500. At XS the same happens with the limit set to 0 (the harness passes
its environment on to every `portal-sync run`), so these tests show at XS
what size L ran into. No timed assertion: the figures are the benchmark's,
not the tests'.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STEPS = (
    "ldapadd of the dry-run LDIF (reference)",
    "initial sync into an empty tree",
    "second run, no change",
    "full reconciliation, no change",
    "bare ldap3 paged search of the managed entries",
    "one person's e-mail changed",
    "one new person with an account",
    "1 % changed",
    "second run after 1 %, no change",
    "portal-sync --version (median of 5)",
)


def harness(*options: str) -> subprocess.CompletedProcess[str]:
    """Run `benchmarks.run --size XS` with a deletion limit of 0; return what it printed."""
    env = {**os.environ, "PORTAL_SYNC_SAFETY__MAX_DELETIONS": "0"}
    return subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--size", "XS", *options],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


def rows(output: str) -> dict[str, list[str]]:
    """Return the Markdown table rows of the steps, by step name."""
    found = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| ") and cells[0] in STEPS:
            found[cells[0]] = cells
    return found


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    saved = tmp_path_factory.mktemp("bench") / "xs.json"
    return harness("--json", str(saved)), saved


def test_the_harness_prints_every_step_and_exits_0(run):
    result, _ = run
    assert result.returncode == 0, result.stdout + result.stderr
    assert list(rows(result.stdout)) == list(STEPS)


def test_the_mutation_step_carries_the_guards_approval(run):
    result, _ = run
    assert result.returncode == 0, result.stdout + result.stderr
    mutation = rows(result.stdout)["1 % changed"]
    head = next(line for line in result.stdout.splitlines() if line.startswith("| step |"))
    columns = [cell.strip() for cell in head.strip().strip("|").split("|")]
    disabled = int(mutation[columns.index("modrdn")]) + int(mutation[columns.index("delete")])
    assert disabled >= 1, "the mutation deletes or disables nothing: the guard is not exercised"
    approved = re.search(r"--allow-deletions (\d+)", result.stdout)
    assert approved and int(approved.group(1)) >= disabled


def test_the_json_file_holds_the_same_steps_and_the_ratios(run):
    result, saved = run
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(saved.read_text(encoding="utf-8"))
    assert data["size"] == "XS"
    assert [step["name"] for step in data["steps"]] == list(STEPS)
    assert {
        "initial sync / ldapadd, entries/s",
        "full reconciliation / bare paged search, wall",
    } <= {figure["figure"] for figure in data["summary"]}


def test_a_held_step_keeps_the_rows_measured_before_it_and_exits_with_its_code():
    result = harness("--no-approval")
    assert result.returncode == 5, result.stdout + result.stderr
    measured = list(rows(result.stdout))
    assert measured == list(STEPS[: STEPS.index("1 % changed")])
    assert "1 % changed" in result.stderr
    assert "deletion guard" in result.stderr


def test_the_growth_table_gives_each_figures_factor_and_exponent(run, tmp_path):
    """Four times the entries, four times the wall, the same peak: exponents 1 and 0."""
    result, saved = run
    assert result.returncode == 0, result.stdout + result.stderr
    larger = json.loads(saved.read_text(encoding="utf-8"))
    larger["size"] = "S"
    for step in larger["steps"]:
        step["operations"] = {op: 4 * n for op, n in step["operations"].items()}
        step["wall"] *= 4
    grown = tmp_path / "s.json"
    grown.write_text(json.dumps(larger), encoding="utf-8")
    shown = subprocess.run(
        [sys.executable, "-m", "benchmarks.growth", "--from", str(saved), str(grown)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert shown.returncode == 0, shown.stdout + shown.stderr
    table = {line.split(" | ")[0].lstrip("| "): line for line in shown.stdout.splitlines()}
    assert table["figure"].endswith("| XS | S | XS to S |")
    assert table["one person's e-mail changed: wall s"].endswith("| x4.00 (1.00) |")
    assert table["one person's e-mail changed: peak RSS MiB"].endswith("| x1.00 (0.00) |")
    assert table["managed entries"].endswith("| x4.00 |")


def test_the_profile_counts_a_function_once_per_sample_and_imports_apart():
    from benchmarks.profile import inclusive

    raw = "\n".join(
        [
            "main (sync/cli.py:1);run (sync/run/sync.py:2);run (sync/run/sync.py:3) 4",
            "main (sync/cli.py:1);_find_and_load (<frozen importlib._bootstrap>:1) 2",
            "main (sync/cli.py:1);decode (/usr/lib/python3.11/json/decoder.py:9) 1",
        ]
    )
    found, total = inclusive(raw)
    assert total == 7
    assert found["run/sync.py:run"] == 4, "a recursive function counts once per sample"
    assert found["cli.py:main"] == 5, "imports are counted apart, not under their caller"
    assert found["(imports)"] == 2
