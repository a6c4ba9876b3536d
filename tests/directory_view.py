"""Read the test slapd with plain ldap3, independently of the code under test."""

from __future__ import annotations

import subprocess

from ldap3 import ALL_ATTRIBUTES, NONE, SUBTREE, Connection, Server

from sync.core.dn import normalize_dn
from sync.ldap.localserver import LocalServer

OWN = ("cn=portal-sync-lock,", "cn=portal-sync-state,")
"""The service's own entries below the base: the run lease and the incremental state's token."""


def connect(server: LocalServer) -> Connection:
    """Return a connection bound as the rootdn."""
    return Connection(
        Server(server.url, get_info=NONE), server.root_dn, server.root_pw, auto_bind=True
    )


def entries(server: LocalServer, base: str | None = None) -> dict[str, dict[str, list[str]]]:
    """Return every entry below `base` (default: the suffix) with all its attributes."""
    with connect(server) as conn:
        conn.search(
            base or server.suffix,
            "(objectClass=*)",
            SUBTREE,
            attributes=[ALL_ATTRIBUTES, "entryCSN", "entryUUID"],
        )
        return {
            entry.entry_dn: {
                k.lower(): [str(v) for v in vs] for k, vs in entry.entry_attributes_as_dict.items()
            }
            for entry in conn.entries
        }


def write_stamps(server: LocalServer) -> dict[str, str]:
    """Return the entryCSN of every entry: it changes on every write to the entry.

    The run lock's lease entry is left out: every writing run takes the lease,
    even one that then changes nothing (docs/daemon.md); so is the token of the
    incremental state, which every run that writes renews (docs/performance.md).
    """
    return {
        dn: attrs["entrycsn"][0] for dn, attrs in entries(server).items() if not dn.startswith(OWN)
    }


def users(server: LocalServer, ou: str) -> set[str]:
    """Return the uids of the users directly in one OU (e.g. "ou=external")."""
    found = entries(server, f"{ou},{server.suffix}")
    return {attrs["uid"][0] for attrs in found.values() if "uid" in attrs}


def groups(server: LocalServer, ou: str) -> dict[str, set[str]]:
    """Return {group cn: member uids} for the groups in one OU (e.g. "ou=orders,ou=groups")."""
    found = entries(server, f"{ou},{server.suffix}")
    result = {}
    for attrs in found.values():
        if "member" not in attrs:
            continue
        uids = {member.split(",", 1)[0].split("=", 1)[1] for member in attrs["member"]}
        result[attrs["cn"][0]] = uids
    return result


def ldapi_search(server: LocalServer, query: str, *attributes: str, scope: str = "sub") -> str:
    """Return ldapsearch's LDIF for `query` below the suffix, as the rootdn over ldapi."""
    return subprocess.run(
        [
            "ldapsearch",
            "-LLL",
            "-H",
            server.ldapi_uri,
            "-Y",
            "EXTERNAL",
            "-Q",
            "-b",
            server.suffix,
            "-s",
            scope,
            query,
            *attributes,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


OWN_ENTRIES = ("cn=portal-sync-lock,", "cn=portal-sync-state,")
"""The service's own entries below a base (the lease, the state token): not synced content."""


def tree_of(server: LocalServer, base: str) -> dict[str, dict[str, list[str]]]:
    """Return the entries below `base` but the service's own: relative DN -> sorted values.

    The base's DN in a value reads `BASE`, so two trees synced below two bases compare equal.
    """
    with connect(server) as conn:
        conn.search(base, "(objectClass=*)", SUBTREE, attributes=[ALL_ATTRIBUTES])
        found = {}
        suffix = "," + normalize_dn(base)
        for entry in conn.entries:
            dn = normalize_dn(entry.entry_dn)
            if dn == normalize_dn(base) or dn.startswith(OWN_ENTRIES):
                continue
            found[dn.removesuffix(suffix)] = {
                name.lower(): sorted(str(v).replace(base, "BASE") for v in values)
                for name, values in entry.entry_attributes_as_dict.items()
            }
        return found


def make_base(server: LocalServer, name: str) -> str:
    """Add the OU `name` below the server's suffix and return its DN."""
    base = f"ou={name},{server.suffix}"
    with connect(server) as conn:
        assert conn.add(base, ["organizationalUnit"], {"ou": name}), conn.result
    return base
