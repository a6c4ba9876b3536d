"""What is wrong with single source records, and which entries that protects.

These are values, not exceptions (those are `sync.errors`): a bad record is
reported and skipped, its entries are left as they are, and the run carries on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from sync.core.entry import EntryKey


class Problem(StrEnum):
    """The kind of a record problem: which rule or check the record broke."""

    INVALID = "invalid"
    """The record fails its model (a field missing or unreadable)."""
    DUPLICATE = "duplicate"
    """Another record shares its id."""
    CONTACT_TYPE = "contact type"
    """A contact type it names does not exist, or the built-in one holds two persons."""
    LOGIN = "login"
    """Another record claims its login."""
    REFERENCE = "reference"
    """An order's customer or agency is missing, invalid or not an agency."""
    ENTRY = "entry"
    """Its entry cannot be written: a value too long, an empty RDN, a DN another wants."""
    DIRECTORY = "directory"
    """The directory refused a change, or another entry holds what it needs."""
    SOURCE = "source"
    """A part of the source as a whole (an empty part, a broken export)."""


@dataclass(frozen=True)
class RecordError:
    """One source record that was skipped, and why.

    `record` and `problem` are the words a report prints; `key` is the
    entry key of the record (None for a record that cannot be identified or
    a part of the source), `owner` the key of the customer a person belongs
    to, `why` the kind of problem. Pages link by key, never by the words.
    """

    record: str
    problem: str
    key: str | None = field(default=None, compare=False)
    owner: str | None = field(default=None, compare=False)
    why: Problem | None = field(default=None, compare=False)

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
