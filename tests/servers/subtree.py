"""A fresh OU per test on a server shared by the whole session, and its removal."""

from __future__ import annotations

import uuid

from ldap3 import SUBTREE, Connection
from ldap3.core.exceptions import LDAPNoSuchObjectResult
from ldap3.utils.dn import to_dn

from .process import ServerError

TREE_DELETE = "1.2.840.113556.1.4.805"
"""Active Directory's tree delete control: one request removes an entry and its subtree."""


def subtree_dns(conn: Connection, base: str) -> list[str]:
    """Return the DNs of `base` and everything below it, paged (AD caps unpaged searches)."""
    found = conn.extend.standard.paged_search(
        base, "(objectClass=*)", SUBTREE, attributes=["1.1"], paged_size=500, generator=False
    )
    return [entry["dn"] for entry in found if entry.get("type") == "searchResEntry"]


def delete_subtree(conn: Connection, base: str, *, tree_delete: bool = False) -> None:
    """Delete `base` and its subtree (by AD's tree delete control, or deepest first); gone is fine."""
    try:
        if tree_delete:
            _check(conn, conn.delete(base, controls=[(TREE_DELETE, True, None)]), base)
            return
        found = subtree_dns(conn, base)
    except LDAPNoSuchObjectResult:
        return
    for dn in sorted(found, key=lambda dn: len(to_dn(dn)), reverse=True):
        _check(conn, conn.delete(dn), dn)


def _check(conn: Connection, done: bool, dn: str) -> None:
    """Raise when a write of the fixture itself failed (on connections that do not raise)."""
    if not done:
        raise ServerError(f"{dn}: {conn.result.get('description')} {conn.result.get('message')}")


def add_ou(conn: Connection, parent: str, *, prefix: str = "test", rdn: str = "ou") -> str:
    """Add a uniquely named OU below `parent` and return its DN.

    `rdn` is the attribute name as the server writes it back in DNs: AD
    writes `OU=`, 389-DS and OpenLDAP `ou=`. Compare DNs case-insensitively all
    the same.
    """
    dn = f"{rdn}={prefix}-{uuid.uuid4().hex[:10]},{parent}"
    _check(conn, conn.add(dn, ["top", "organizationalUnit"]), dn)
    return dn
