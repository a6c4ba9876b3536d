"""What is wrong with single source records, and which entries that protects.

These are values, not exceptions (those are `sync.errors`): a bad record is
reported and skipped, its entries are left as they are, and the run carries on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sync.core.entry import EntryKey


@dataclass(frozen=True)
class RecordError:
    """One source record that was skipped, and why."""

    record: str
    problem: str

    def __str__(self) -> str:
        return f"{printable(self.record)}: {printable(self.problem, 480)}"


def printable(text: str, limit: int = 160) -> str:
    """Return text safe for a terminal or a log line: control characters escaped, length capped."""
    safe = "".join(char if char.isprintable() or char == " " else repr(char)[1:-1] for char in text)
    return safe if len(safe) <= limit else f"{safe[: limit - 1]}…"


@dataclass
class Quarantine:
    """Directory entries a run must leave exactly as they are.

    A bad record keeps its entry: `keys` names the entries of records that
    failed validation; `kinds` names whole entry kinds whose deletions are
    suspended because a bad record could not even be identified, or because a
    part of the source came back empty; `unknown_kinds` the kinds whose every
    membership is unknown, so kept as it is (`sync.core.parts`).
    """

    keys: set[str] = field(default_factory=set)
    kinds: set[str] = field(default_factory=set)
    broken_customers: set[str] = field(default_factory=set)
    unknown_kinds: set[str] = field(default_factory=set)

    def protects(self, key: str) -> bool:
        """Return whether the entry with this key must be left alone."""
        return key in self.keys

    def blocks_deletion(self, key: str) -> bool:
        """Return whether deleting the entry with this key is suspended."""
        return key in self.keys or EntryKey.kind(key) in self.kinds
