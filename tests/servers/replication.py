"""Two OpenLDAP providers replicating to each other (syncprov + syncrepl, multiprovider).

Each provider is a `LocalServer` (the project's throwaway slapd) with its own
serverID, the syncprov overlay and a refreshAndPersist consumer of the other.
Only the first adds the base entry; the second receives it by replication,
so no entry exists twice with different entryUUIDs.

There is no syncprov session log (`olcSpSessionLog`): with one, slapd 2.5.13
here let a provider that was stopped and started again miss the modifies
and renames made meanwhile on the other (adds and deletes arrived); without
it the restarted provider runs a present phase and catches up.
"""

from __future__ import annotations

import signal
import time
import uuid
from typing import Any

from ldap3 import BASE, NONE, SUBTREE, Connection, Server
from ldap3.core.exceptions import LDAPNoSuchObjectResult, LDAPNotAllowedOnNotLeafResult

from sync.ldap.localserver import LocalServer

from .process import ServerError, free_port
from .subtree import delete_subtree

_REPLICATION = """dn: olcDatabase={{1}}mdb,cn=config
changetype: modify
add: olcDbIndex
olcDbIndex: entryCSN eq
olcDbIndex: entryUUID eq

dn: olcOverlay=syncprov,olcDatabase={{1}}mdb,cn=config
changetype: add
objectClass: olcOverlayConfig
objectClass: olcSyncProvConfig
olcOverlay: syncprov
olcSpCheckpoint: 100 1

dn: olcDatabase={{1}}mdb,cn=config
changetype: modify
add: olcSyncrepl
olcSyncrepl: rid={rid:03d} provider=ldap://127.0.0.1:{peer}/ bindmethod=simple
  binddn="{rootdn}" credentials="{password}" searchbase="{suffix}"
  type=refreshAndPersist retry="1 +" timeout=1 network-timeout=1
-
add: olcMultiProvider
olcMultiProvider: TRUE
"""

Tree = dict[str, dict[str, list[str]]]


class Provider(LocalServer):
    """One provider of the pair: serverID `server_id`, consuming from the provider on `peer`."""

    def __init__(self, server_id: int, port: int, peer: int, *, seed: bool, **kwargs: Any) -> None:
        suffix = kwargs.setdefault("suffix", "dc=example,dc=org")
        password = kwargs.setdefault("root_password", "admin-secret")
        replication = _REPLICATION.format(
            rid=3 - server_id,
            peer=peer,
            rootdn=f"cn=admin,{suffix}",
            password=password,
            suffix=suffix,
        )
        changes = (*kwargs.pop("config_changes", ()), replication)
        modules = kwargs.pop("modules_extra", "") + "olcModuleLoad: syncprov\n"
        super().__init__(port=port, config_changes=changes, modules_extra=modules, **kwargs)
        self.server_id = server_id
        self.seed = seed

    def init_tree(self) -> None:
        """Add the base entry on the seeding provider only."""
        if self.seed:
            super().init_tree()

    def halt(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Stop slapd by its PID (SIGKILL for a crash), keeping its data for `resume`."""
        if self._proc is not None:
            self._proc.send_signal(sig)
            self.wait()

    def resume(self) -> None:
        """Start slapd again on the same data and port after `halt`."""
        if self._proc is not None and self._proc.poll() is not None:
            self.wait()
        if self._proc is None:
            self._start_slapd()

    @property
    def running(self) -> bool:
        """Return whether slapd runs."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int:
        """Return the PID of the running slapd."""
        if self._proc is None:
            raise ServerError(f"provider {self.server_id} is not running")
        return int(self._proc.pid)

    def connection(self) -> Connection:
        """Return a connection bound as the rootdn."""
        return Connection(
            Server(self.url, get_info=NONE, connect_timeout=5),
            self.root_dn,
            self.root_pw,
            auto_bind=True,
            raise_exceptions=True,
            receive_timeout=30,
        )


def context_csns(provider: Provider) -> list[str]:
    """Return the contextCSN values of the provider's suffix: one per serverID that wrote."""
    with provider.connection() as conn:
        conn.search(provider.suffix, "(objectClass=*)", BASE, attributes=["contextCSN"])
        return sorted(str(value) for value in conn.entries[0].contextCSN.values)


def exists(provider: Provider, dn: str) -> bool:
    """Return whether `dn` is on `provider`."""
    with provider.connection() as conn:
        try:
            return bool(conn.search(dn, "(objectClass=*)", BASE, attributes=["1.1"]))
        except LDAPNoSuchObjectResult:
            return False


def tree(server: Provider, base: str | None = None) -> Tree:
    """Return every entry below `base` with its attributes, entryUUID and entryCSN."""
    with server.connection() as conn:
        found = conn.extend.standard.paged_search(
            base or server.suffix,
            "(objectClass=*)",
            SUBTREE,
            attributes=["*", "entryUUID", "entryCSN"],
            paged_size=500,
            generator=False,
        )
        return {
            entry["dn"].lower(): {
                name.lower(): sorted(str(value) for value in values)
                for name, values in entry["attributes"].items()
            }
            for entry in found
            if entry.get("type") == "searchResEntry"
        }


def tree_differences(first: Tree, second: Tree) -> list[str]:
    """Return, one line each, the entries and attributes in which two trees differ."""
    lines = []
    for dn in sorted(first.keys() | second.keys()):
        if dn not in second:
            lines.append(f"only on the first: {dn}")
        elif dn not in first:
            lines.append(f"only on the second: {dn}")
        elif first[dn] != second[dn]:
            names = sorted(
                name
                for name in first[dn].keys() | second[dn].keys()
                if first[dn].get(name) != second[dn].get(name)
            )
            lines.append(f"differs: {dn}: {', '.join(names)}")
    return lines


class ReplicatedPair:
    """Two slapd providers in multi-provider replication on free loopback ports."""

    def __init__(self, suffix: str = "dc=example,dc=org", **kwargs: Any) -> None:
        ports = free_port(), free_port()
        while ports[1] == ports[0]:
            ports = ports[0], free_port()
        self.providers = (
            Provider(1, ports[0], ports[1], seed=True, suffix=suffix, **kwargs),
            Provider(2, ports[1], ports[0], seed=False, suffix=suffix, **kwargs),
        )
        self.suffix = suffix
        self.timings: dict[str, float] = {}

    @property
    def first(self) -> Provider:
        """Return provider 1 (serverID 1, the one that seeded the base entry)."""
        return self.providers[0]

    @property
    def second(self) -> Provider:
        """Return provider 2."""
        return self.providers[1]

    @property
    def urls(self) -> list[str]:
        """Return the ldap:// URLs of both providers, first one first."""
        return [provider.url for provider in self.providers]

    def start(self) -> None:
        """Start both providers; return once a write on each has reached the other."""
        started = time.monotonic()
        try:
            for provider in self.providers:
                provider.start()
            self.timings["start"] = time.monotonic() - started
            self.wait_replicating()
        except BaseException:
            self.stop()
            raise
        self.timings["replicating"] = time.monotonic() - started

    def wait_replicating(self, timeout: float = 30) -> None:
        """Write a marker on each provider and wait until the other has it, then remove them."""
        for source, target in (self.providers, self.providers[::-1]):
            marker = f"cn=replication-check-{uuid.uuid4().hex[:8]},{self.suffix}"
            with source.connection() as conn:
                conn.add(marker, ["applicationProcess"])
            self.wait_for(target, marker, timeout=timeout)
            with source.connection() as conn:
                conn.delete(marker)
            self.wait_for(target, marker, present=False, timeout=timeout)

    @staticmethod
    def wait_for(
        provider: Provider, dn: str, *, present: bool = True, timeout: float = 60
    ) -> float:
        """Wait until `dn` is (or is no longer) on `provider`; return the seconds it took."""
        started = time.monotonic()
        while exists(provider, dn) != present:
            if time.monotonic() - started > timeout:
                state = "appear" if present else "disappear"
                raise ServerError(f"{dn} did not {state} on {provider.url} in {timeout} s")
            time.sleep(0.01)
        return time.monotonic() - started

    def wait_caught_up(self, timeout: float = 120) -> list[str]:
        """Wait until both providers hold the same contextCSNs (each has the other's last
        write); return them. Call it only while nothing writes to the pair."""
        limit = time.monotonic() + timeout
        while (first := context_csns(self.first)) != (second := context_csns(self.second)):
            if time.monotonic() > limit:
                raise ServerError(
                    f"the providers' contextCSNs still differ after {timeout} s: {first} / {second}"
                )
            time.sleep(0.02)
        return first

    def remove(self, base: str, timeout: float = 180) -> None:
        """Delete `base` and its subtree from both providers, once replication has caught up.

        Both providers must run. Entries written on either one while the other
        was down may still be on their way when this starts: it waits until the
        contextCSNs agree, deletes leaves first on provider 1, and when an entry
        got a child meanwhile (notAllowedOnNonLeaf) waits and deletes again,
        until `base` is gone from both.
        """
        limit = time.monotonic() + timeout
        self.wait_replicating(timeout=timeout)
        while True:
            self.wait_caught_up(timeout=timeout)
            try:
                with self.first.connection() as conn:
                    delete_subtree(conn, base)
            except LDAPNotAllowedOnNotLeafResult:
                pass
            else:
                self.wait_caught_up(timeout=timeout)
                if not any(exists(provider, base) for provider in self.providers):
                    return
            if time.monotonic() > limit:
                raise ServerError(f"{base} is still on a provider after {timeout} s")

    def differences(self, base: str | None = None) -> list[str]:
        """Return how the two providers' trees differ (empty when they hold the same)."""
        return tree_differences(tree(self.first, base), tree(self.second, base))

    def wait_converged(self, base: str | None = None, timeout: float = 30) -> float:
        """Wait until both providers hold the same tree; return the seconds it took."""
        started = time.monotonic()
        while differences := self.differences(base):
            if time.monotonic() - started > timeout:
                raise ServerError(
                    f"the providers still differ after {timeout} s:\n" + "\n".join(differences)
                )
            time.sleep(0.05)
        return time.monotonic() - started

    def resume(self) -> None:
        """Start again whichever provider is halted."""
        for provider in self.providers:
            provider.resume()

    def stop(self) -> None:
        """Stop both providers and delete their files."""
        for provider in self.providers:
            provider.stop()
