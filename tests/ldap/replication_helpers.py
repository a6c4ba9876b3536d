"""Helpers of the replication tests: settings for the pair, contextCSN, and a big source."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import documents
from ldap3 import NONE, SUBTREE, Connection, Server

from sync.settings import Settings, load_settings

from servers.replication import Provider, ReplicatedPair


def pair_settings(
    pair: ReplicatedPair,
    base: str,
    folder: Path,
    urls: list[str],
    document: dict[str, Any] | None = None,
    **overrides: Any,
) -> Settings:
    """Return settings syncing `document` below `base` through the servers `urls`, in order."""
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "source.json"
    source.write_text(json.dumps(document or small_document()), encoding="utf-8")
    overrides.setdefault("state_dir", folder / "state")
    return load_settings(
        ldap={
            "url": urls,
            "bind_dn": pair.first.root_dn,
            "bind_password": pair.first.root_pw,
            "base_dn": base,
            "timeout": 3,
        },
        source={"path": source},
        **overrides,
    )


def wait_same_context_csn(pair: ReplicatedPair, timeout: float = 120) -> list[str]:
    """Poll both providers until their contextCSNs agree (replication caught up); return them."""
    return pair.wait_caught_up(timeout)


def server_ids_of_writes(provider: Provider, base: str, search_filter: str) -> set[str]:
    """Return the serverIDs found in the entryCSN of the entries below `base` (who wrote them)."""
    with provider.connection() as conn:
        found = conn.extend.standard.paged_search(
            base, search_filter, SUBTREE, attributes=["entryCSN"], paged_size=500, generator=False
        )
        return {
            str(entry["attributes"]["entryCSN"][0]).split("#")[2]
            for entry in found
            if entry.get("type") == "searchResEntry"
        }


def managed_keys(provider: Provider, base: str) -> list[str]:
    """Return the entry keys of every managed entry below `base` on `provider`."""
    with provider.connection() as conn:
        found = conn.extend.standard.paged_search(
            base,
            "(businessCategory=portal-sync:*)",
            SUBTREE,
            attributes=["businessCategory"],
            paged_size=500,
            generator=False,
        )
        return [
            value
            for entry in found
            if entry.get("type") == "searchResEntry"
            for value in entry["attributes"]["businessCategory"]
            if not value.startswith("portal-sync:disabled-since:")
        ]


def count_users(provider: Provider, base: str) -> int:
    """Return how many synced users (uid=user-*) are below `base` on `provider`."""
    with provider.connection() as conn:
        conn.search(base, "(uid=user-*)", SUBTREE, attributes=["1.1"], size_limit=0)
        return len(conn.entries)


def binds(provider: Provider, dn: str, password: str) -> bool:
    """Return whether `provider` accepts a simple bind as `dn` with `password`."""
    conn = Connection(Server(provider.url, get_info=NONE, connect_timeout=5), dn, password)
    try:
        return bool(conn.bind())
    finally:
        conn.unbind()


def users_without_their_password(provider: Provider, base: str, logins: list[str]) -> list[str]:
    """Return the logins whose entry does not hold the source's password hash (LDAP compare)."""
    with provider.connection() as conn:
        return [
            login
            for login in logins
            if not conn.compare(
                f"uid={login},ou=external,{base}", "userPassword", ssha(password_of(login))
            )
        ]


def password_of(login: str) -> str:
    """Return the cleartext password the big source gives `login`."""
    return f"pw-{login}"


def ssha(password: str) -> str:
    """Return the {SSHA} hash of `password` (fixed salt: the test needs no secrecy)."""
    salt = b"salt1234"
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def small_document() -> dict[str, Any]:
    """Return a source with one customer and two users."""
    return big_document(customers=1, persons=2)


def big_document(customers: int = 60, persons: int = 20) -> dict[str, Any]:
    """Return a source of `customers` customers of `persons` users, each with its source hash."""
    return documents.big_document(
        customers, persons, password_hash=lambda login: ssha(password_of(login))
    )


@contextmanager
def consumer_stopped(provider: Provider) -> Iterator[None]:
    """Remove the provider's syncrepl consumer (it receives nothing more), put it back after."""
    database = "olcDatabase={1}mdb,cn=config"
    search = ["ldapsearch", "-H", provider.ldapi_uri, "-Y", "EXTERNAL", "-Q", "-LLL"]
    found = subprocess.run(
        [*search, "-o", "ldif-wrap=no", "-b", database, "-s", "base", "olcSyncrepl"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    value = next(line for line in found.splitlines() if line.startswith("olcSyncrepl:"))
    _config(provider, f"dn: {database}\nchangetype: modify\ndelete: olcSyncrepl\n")
    try:
        yield
    finally:
        _config(provider, f"dn: {database}\nchangetype: modify\nadd: olcSyncrepl\n{value}\n")


def _config(provider: Provider, ldif: str) -> None:
    subprocess.run(
        ["ldapmodify", "-H", provider.ldapi_uri, "-Y", "EXTERNAL", "-Q"],
        input=ldif,
        capture_output=True,
        text=True,
        check=True,
    )
