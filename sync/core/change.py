"""One write to the directory, as the planner orders it and the reports list it (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Op(StrEnum):
    """What a change does to the directory."""

    ADD_CONTAINER = "add-container"
    RENAME = "rename"
    ADD = "add"
    MODIFY = "modify"
    DELETE = "delete"


class Reason(StrEnum):
    """Why a lifecycle change happens, when it is more than keeping an entry up to date."""

    NONE = ""
    DISABLE = "disable"
    RESTORE = "restore"
    RETENTION_EXPIRED = "retention-expired"
    LEFT_SOURCE = "left-source"
    MAKE_ROOM = "make-room"
    NO_MEMBER = "no-member"
    BEFORE_MOVE = "before-move"
    RELEASE = "release-login"
    """A user gives up its login attributes before another entry takes them (AD)."""


@dataclass(frozen=True, slots=True)
class Change:
    """One write to the directory.

    For ADD, `replace` holds every attribute of the new entry; for MODIFY it
    holds attributes to set to exactly these values (an empty tuple removes
    the attribute), and `add_values`/`delete_values` hold single values to
    add or remove (group members, lifecycle markers).
    """

    op: Op
    dn: str
    key: str | None = None
    new_dn: str | None = None
    object_classes: tuple[str, ...] = ()
    replace: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    add_values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    delete_values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    reason: Reason = Reason.NONE

    @property
    def is_destructive(self) -> bool:
        """Return whether this change deletes or disables an entry."""
        return self.op is Op.DELETE or (self.op is Op.RENAME and self.reason is Reason.DISABLE)

    def to_dict(self) -> dict[str, object]:
        """Return this change as plain data for reports."""
        data: dict[str, object] = {"op": self.op.value, "dn": self.dn}
        if self.key:
            data["key"] = self.key
        if self.new_dn:
            data["new_dn"] = self.new_dn
        if self.reason:
            data["reason"] = self.reason.value
        for name in ("replace", "add_values", "delete_values"):
            values = getattr(self, name)
            if values:
                data[name] = {attribute: list(v) for attribute, v in values.items()}
        return data


@dataclass(frozen=True)
class Withdrawal:
    """A membership taken away because the source no longer supports it, and why."""

    member: str
    group: str
    reason: str

    def __str__(self) -> str:
        return f"{self.member} from {self.group}: {self.reason}"

    def to_dict(self) -> dict[str, str]:
        """Return this withdrawal as plain data for reports."""
        return {"member": self.member, "group": self.group, "reason": self.reason}
