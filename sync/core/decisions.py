"""Why a valid record has no entry: the rules left it out on purpose (pure).

These are not errors. A customer without remote access, an order not
visible on the portal, a person without a portal account and a disabled
account get no entry by design; a newcomer reading the report should not
have to guess where they went. Records with a record error are not listed
here: the report names them among the errors. The rules that decide live
in `sync.core.rules`; this module holds only the words.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum


class Why(StrEnum):
    """The rule that left a record out."""

    NO_REMOTE_ACCESS = "customer without remote access"
    NOT_VISIBLE = "order not visible on the portal"
    NO_ACCOUNT = "person without a portal account"
    ACCOUNT_DISABLED = "account disabled"
    NO_MEMBER = "group nobody would be in"


@dataclass(frozen=True)
class Decision:
    """One record the rules left without an entry, and why."""

    record: str
    why: Why
    detail: str
    key: str | None = field(default=None, compare=False)
    """The entry key of the record."""

    def __str__(self) -> str:
        return f"{self.record}: {self.detail}"

    def to_dict(self) -> dict[str, str]:
        """Return the decision as plain data."""
        return {"record": self.record, "reason": self.why.value, "detail": self.detail}


def counted(found: list[Decision]) -> dict[str, int]:
    """Return the number of decisions per reason."""
    return dict(Counter(decision.why.value for decision in found))
