"""The directories the behaviour suite runs on, each read with plain ldap3, not the code under test.

A `Target` is one flavour's server, with a fresh subtree the sync uses as
its base DN, the mapping the flavour ships, and the few things a test reads
back: users, groups, a server-wide write counter, passwords.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ldap3 import ALL_ATTRIBUTES, BASE, MODIFY_REPLACE, SUBTREE, Connection
from ldap3.core.exceptions import LDAPException

from sync.settings import Settings, load_settings

MAPPINGS = Path(__file__).parent.parent.parent / "mappings"


def ad_password(password: str) -> bytes:
    """Return a password as AD's unicodePwd wants it: quoted, in UTF-16-LE."""
    return f'"{password}"'.encode("utf-16-le")


@dataclass
class Target:
    """One flavour's server, the subtree a test syncs into, and how to read it back."""

    name: str
    base: str
    url: str
    admin_dn: str
    admin_password: str
    mapping: str
    connect: Callable[..., Connection]
    """An ldap3 connection bound as the admin (or as the given DN and password)."""
    login_attribute: str
    writes: Callable[[Target], object]
    """A value that changes whenever the server takes a write below `base`."""
    ldap_extra: dict[str, Any] = field(default_factory=dict)
    plain_url: str = ""
    """AD only: the ldap:// URL (no TLS) of the same server."""
    upn_suffix: str = ""
    """AD only: the domain's UPN suffix."""
    crash: Callable[[], None] = lambda: None
    """Kill the server (SIGKILL), keeping its data."""
    revive: Callable[[], None] = lambda: None
    """Start the killed server again on its data and port."""

    def settings(self, document: dict[str, Any], folder: Path, **overrides: Any) -> Settings:
        """Return settings that sync `document` into this target as its admin."""
        path = folder / "source.json"
        path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
        ldap = {
            "url": self.url,
            "bind_dn": self.admin_dn,
            "bind_password": self.admin_password,
            "base_dn": self.base,
            **self.ldap_extra,
            **overrides.pop("ldap", {}),
        }
        overrides.setdefault("state_dir", folder / "state")
        mapping = {"path": self.mapping, **overrides.pop("mapping", {})}
        if self.upn_suffix:
            mapping.setdefault("values", {"upn_suffix": self.upn_suffix})
        overrides["mapping"] = mapping
        return load_settings(ldap=ldap, source={"path": path}, **overrides)

    def entries(self, ou: str = "") -> dict[str, dict[str, list[str]]]:
        """Return every entry below `ou` (relative to the base), DNs in lower case."""
        base = f"{ou},{self.base}" if ou else self.base
        with self.connect() as conn:
            try:
                found = conn.extend.standard.paged_search(
                    base,
                    "(objectClass=*)",
                    SUBTREE,
                    attributes=[ALL_ATTRIBUTES],
                    paged_size=500,
                    generator=False,
                )
            except LDAPException:
                return {}
            return {
                item["dn"].lower(): {
                    name.lower(): [_text(v) for v in (vs if isinstance(vs, list) else [vs])]
                    for name, vs in item["attributes"].items()
                }
                for item in found
                if item.get("type") == "searchResEntry"
            }

    def dn(self, ou: str, login: str) -> str:
        """Return the DN a user with this login gets in `ou` (lower case)."""
        rdn = "uid" if self.login_attribute == "uid" else "cn"
        return f"{rdn}={login},{ou},{self.base}".lower()

    def users(self, ou: str) -> set[str]:
        """Return the logins of the users directly in one OU (e.g. "ou=external").

        On AD a disabled user gives its sAMAccountName up and keeps its login
        in its name (and in msDS-cloudExtensionAttribute1): the login read is
        the RDN value, which equals sAMAccountName for an active user.
        """
        found = self.entries(ou)
        if self.name == "samba-ad":
            return {
                dn.split(",", 1)[0].split("=", 1)[1]
                for dn, a in found.items()
                if self.login_attribute in a
            }
        return {a[self.login_attribute][0] for a in found.values() if self.login_attribute in a}

    def groups(self, ou: str) -> dict[str, set[str]]:
        """Return {group cn: member logins} of the groups in one OU."""
        result = {}
        for attributes in self.entries(ou).values():
            if "member" in attributes:
                logins = {m.split(",", 1)[0].split("=", 1)[1] for m in attributes["member"]}
                result[attributes["cn"][0]] = logins
        return result

    def member_dns(self, ou: str) -> set[str]:
        """Return every member value of the groups in one OU, in lower case."""
        return {m.lower() for a in self.entries(ou).values() for m in a.get("member", ())}

    def set_password(self, dn: str, password: str) -> None:
        """Set a user's password as the admin, the way this server takes one."""
        with self.connect() as conn:
            if self.name == "samba-ad":
                change = {"unicodePwd": [(MODIFY_REPLACE, [ad_password(password)])]}
            else:
                change = {"userPassword": [(MODIFY_REPLACE, [password])]}
            assert conn.modify(dn, change), conn.result

    def can_bind(self, user: str, password: str) -> bool:
        """Return whether the server accepts a simple bind as `user` (a DN, or a UPN on AD)."""
        try:
            with self.connect(user, password):
                return True
        except LDAPException:
            return False

    def attribute(self, dn: str, name: str) -> list[str]:
        """Return the values of one attribute of one entry."""
        with self.connect() as conn:
            conn.search(dn, "(objectClass=*)", BASE, attributes=[name])
            return [_text(v) for v in conn.entries[0][name].values] if conn.entries else []


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def slapd_writes(target: Target) -> object:
    """Return the entryCSN of every entry below the base: a write changes one."""
    return {dn: a.get("entrycsn") for dn, a in _operational(target, "entryCSN").items()}


def ad_writes(target: Target) -> object:
    """Return the root DSE's highestCommittedUSN: every write on the DC raises it."""
    with target.connect() as conn:
        conn.search("", "(objectClass=*)", BASE, attributes=["highestCommittedUSN"])
        return conn.response[0]["attributes"]["highestCommittedUSN"]


def dirsrv_writes(target: Target) -> object:
    """Return 389-DS's counters of add, modify, modrdn and delete operations (cn=snmp,cn=monitor)."""
    counters = ["addentryops", "modifyentryops", "modifyrdnops", "removeentryops"]
    with target.connect() as conn:
        conn.search("cn=snmp,cn=monitor", "(objectClass=*)", BASE, attributes=counters)
        return {name: str(conn.entries[0][name].value) for name in counters}


def _operational(target: Target, name: str) -> dict[str, dict[str, object]]:
    with target.connect() as conn:
        conn.search(target.base, "(objectClass=*)", SUBTREE, attributes=[name])
        return {e.entry_dn.lower(): {name.lower(): str(e[name].value)} for e in conn.entries}
