"""A plan as LDIF change records (RFC 2849), for `ldapmodify -a` / `ldapadd` (pure).

Against an empty tree the plan is only adds, so the LDIF holds exactly the
entries the sync would create: the reference the benchmark loads with
`ldapadd`. Values that are not safe strings are written base64-encoded;
lines are not folded (OpenLDAP's tools read lines of any length).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator

from sync.core import dn as dnlib
from sync.core.change import Change, Op

_UNSAFE_START = frozenset(" :<")


def _is_safe(value: str) -> bool:
    """Return whether a value may be written as is (an RFC 2849 SAFE-STRING)."""
    if not value:
        return True
    if value[0] in _UNSAFE_START or value.endswith(" ") or not value.isascii():
        return False
    return not any(char in "\0\r\n" for char in value)


def line(name: str, value: str) -> str:
    """Return one `name: value` line, base64-encoded when the value is not safe."""
    if _is_safe(value):
        return f"{name}: {value}"
    return f"{name}:: {base64.b64encode(value.encode('utf-8')).decode('ascii')}"


def change_record(change: Change) -> str:
    """Return the LDIF change record of one change, ending with an empty line."""
    lines = [line("dn", change.dn)]
    if change.op in (Op.ADD, Op.ADD_CONTAINER):
        lines.append("changetype: add")
        lines.extend(line("objectClass", name) for name in change.object_classes)
        for name, values in change.replace.items():
            lines.extend(line(name, value) for value in values)
    elif change.op is Op.MODIFY:
        lines.append("changetype: modify")
        for verb, attributes in (
            ("replace", change.replace),
            ("add", change.add_values),
            ("delete", change.delete_values),
        ):
            for name, values in attributes.items():
                lines.append(f"{verb}: {name}")
                lines.extend(line(name, value) for value in values)
                lines.append("-")
    elif change.op is Op.RENAME:
        assert change.new_dn is not None
        lines.append("changetype: modrdn")
        lines.append(line("newrdn", dnlib.leaf_rdn(change.new_dn)))
        lines.append("deleteoldrdn: 1")
        new_parent = dnlib.parent_dn(change.new_dn)
        if dnlib.normalize_dn(new_parent) != dnlib.normalize_dn(dnlib.parent_dn(change.dn)):
            lines.append(line("newsuperior", new_parent))
    elif change.op is Op.DELETE:
        lines.append("changetype: delete")
    else:
        raise ValueError(f"no LDIF for operation {change.op}")
    return "\n".join(lines) + "\n\n"


def ldif(changes: Iterable[Change]) -> Iterator[str]:
    """Yield the LDIF text of the changes, record by record, after the version line."""
    yield "version: 1\n\n"
    for change in changes:
        yield change_record(change)
