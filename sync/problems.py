"""What went wrong with single source records, and what that protects."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RecordError:
    """One source record that was skipped, and why."""

    record: str
    problem: str

    def __str__(self) -> str:
        return f"{self.record}: {self.problem}"


@dataclass
class Quarantine:
    """Directory entries a run must leave exactly as they are.

    A bad record keeps its entry: `keys` names the entries of records that
    failed validation; `kinds` names whole entry kinds whose deletions are
    suspended because a bad record could not even be identified.
    """

    keys: set[str] = field(default_factory=set)
    kinds: set[str] = field(default_factory=set)
    broken_customers: set[str] = field(default_factory=set)

    def protects(self, key: str) -> bool:
        """Return whether the entry with this key must be left alone."""
        return key in self.keys

    def blocks_deletion(self, key: str) -> bool:
        """Return whether deleting the entry with this key is suspended."""
        return key in self.keys or key.split(":", 1)[0] in self.kinds
