"""The benchmark's rows, printed one by one as the steps finish, and its figures against targets.

A step's row goes out (flushed) as soon as the step has finished, so a run
of an hour shows its progress and a step that fails leaves the rows measured
before it on the screen and in the JSON file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

LEASE_WRITES = 2
"""Modifies every `portal-sync run` makes on its run lease (docs/daemon.md), not the sync's."""


@dataclass
class Step:
    """One measured step of the benchmark."""

    key: str
    name: str
    wall: float
    rss_kib: int
    operations: dict[str, int]
    entries_sent: int
    note: str = ""
    walls: list[float] = field(default_factory=list)
    """Every wall time of a step measured several times (`wall` is their median)."""

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


@dataclass(frozen=True)
class Figure:
    """One figure of the issue's target table, as this run measured it."""

    figure: str
    value: float
    shown: str
    target: str


HEAD = (
    "| step | wall s | search | entries read | add | modify | modrdn | delete "
    "| entries/s | x ref speed | x ref time | peak RSS MiB | RSS B/entry |"
)
SYNC_STEPS = ("initial", "nochange", "full", "email", "person", "mutation", "after")
"""The steps that are a `portal-sync run` (their peak RSS is the sync's)."""


class Table:
    """Print each step's row as it comes, keep the rows, and rewrite the JSON file after each."""

    def __init__(self, out: TextIO, saved: Path | None, meta: dict[str, Any]) -> None:
        self.out = out
        self.saved = saved
        self.meta = meta
        self.steps: list[Step] = []

    def head(self, title: str) -> None:
        """Print the run's title and the table's head."""
        print(title, file=self.out)
        print(HEAD, file=self.out)
        print("|" + "---|" * 13, file=self.out, flush=True)

    def add(self, step: Step) -> None:
        """Print a finished step's row at once and save every row so far."""
        self.steps.append(step)
        print(row(step, self.steps[0]), file=self.out, flush=True)
        self.save()

    def save(self) -> None:
        """Write the rows and figures measured so far to the JSON file, if one was asked for."""
        if self.saved is None:
            return
        data = {
            **self.meta,
            "steps": [{**asdict(s), **derived(s, self.steps[0])} for s in self.steps],
            "summary": [asdict(f) for f in figures(self.steps, self.meta.get("fsync", False))],
        }
        self.saved.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")

    def finish(self) -> None:
        """Print what each step changed, and the figures against the issue's targets."""
        notes = [f"- {step.name}: {step.note}" for step in self.steps if step.note]
        if notes:
            print("\n" + "\n".join(notes), file=self.out)
        found = figures(self.steps, self.meta.get("fsync", False))
        if found:
            print("\n| figure | this run | target at size M |", file=self.out)
            print("|---|---|---|", file=self.out)
            for figure in found:
                print(f"| {figure.figure} | {figure.shown} | {figure.target} |", file=self.out)
        self.out.flush()


def derived(step: Step, reference: Step) -> dict[str, float | None]:
    """Return a step's computed figures: rate, ratios to the reference, RSS per entry."""
    managed = reference.operations.get("Add", 0)
    speed = step.rate / reference.rate if step.writes >= 100 and reference.rate else None
    return {
        "entries_per_s": step.rate,
        "x_ref_speed": speed,
        "x_ref_time": step.wall / reference.wall if reference.wall else None,
        "rss_bytes_per_entry": step.rss_kib * 1024 / managed if managed else None,
    }


def row(step: Step, reference: Step) -> str:
    """Return a step's Markdown row; ratios compare with the reference of the same run."""
    ops = step.operations
    figures = derived(step, reference)
    speed, time, per_entry = (
        figures["x_ref_speed"],
        figures["x_ref_time"],
        figures["rss_bytes_per_entry"],
    )
    return (
        f"| {step.name} | {step.wall:.2f} | {ops.get('Search', 0)} | {step.entries_sent} "
        f"| {ops.get('Add', 0)} | {ops.get('Modify', 0)} | {ops.get('Modrdn', 0)} "
        f"| {ops.get('Delete', 0)} | {f'{step.rate:,.0f}' if step.rate else '-'} "
        f"| {f'{speed:.2f}' if speed else '-'} | {f'{time:.2f}' if time is not None else '-'} "
        f"| {step.rss_kib / 1024:.0f} | {f'{per_entry:,.0f}' if per_entry is not None else '-'} |"
    )


def figures(steps: list[Step], fsync: bool) -> list[Figure]:
    """Return the issue's target figures that the steps measured so far allow."""
    by_key = {step.key: step for step in steps}
    found: list[Figure] = []

    def ratio(
        name: str, top: str, bottom: str, value: Callable[[Step], float], target: str
    ) -> None:
        if top in by_key and bottom in by_key and value(by_key[bottom]):
            measured = value(by_key[top]) / value(by_key[bottom])
            found.append(Figure(name, measured, f"{measured:.2f}", target))

    def seconds(name: str, key: str, target: str) -> None:
        if key in by_key:
            wall = by_key[key].wall
            found.append(Figure(name, wall, f"{wall:.2f} s", target))

    speed = ">= 1.0 (fsync)" if fsync else ">= 0.8 (dbnosync)"
    ratio("initial sync / ldapadd, entries/s", "initial", "ldapadd", lambda s: s.rate, speed)
    ratio(
        "full reconciliation / bare paged search, wall",
        "full",
        "paged",
        lambda s: s.wall,
        "<= 1.2",
    )
    seconds("one person's e-mail changed, one-shot run", "email", "< 2 s")
    seconds("one person added, one-shot run", "person", "-")
    seconds("no-change run", "nochange", "< 0.5 s")
    if "nochange" in by_key:
        writes = by_key["nochange"].writes - LEASE_WRITES
        found.append(
            Figure("no-change run, writes (lease's 2 not counted)", writes, str(writes), "0")
        )
    reference = by_key.get("ldapadd")
    managed = reference.operations.get("Add", 0) if reference else 0
    runs = [by_key[key] for key in SYNC_STEPS if key in by_key]
    if runs and managed:
        largest = max(runs, key=lambda s: s.rss_kib)
        per_entry = largest.rss_kib * 1024 / managed
        shown = f"{per_entry:,.0f} B ({largest.name})"
        found.append(
            Figure("peak RSS per managed entry, largest step", per_entry, shown, "< 2,048 B")
        )
    if "version" in by_key:
        version = by_key["version"]
        walls = ", ".join(f"{wall:.2f}" for wall in version.walls)
        shown = f"{version.wall:.2f} s (of {walls})"
        found.append(Figure("`portal-sync --version`, median of 5", version.wall, shown, "< 0.3 s"))
    return found
