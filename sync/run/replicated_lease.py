"""The run lease on a replicated directory: one claim per run, seen on every provider.

A compare-and-swap on one lease entry is safe on one server only. With
several providers, two runs can each swap the entry on a different provider
before either change replicates; replication then keeps the later entry on
both, and both runs believe they hold the lease. So when `ldap.url` lists
several servers, a run takes the lease by claims instead:

1. it adds a claim entry of its own, `cn=<holder>` below the lease entry
   (which it creates when missing), on the first reachable server of the list;
2. on every reachable server of the list, in order, it waits until its claim
   has arrived there (replication) and then reads every claim there;
3. it holds the lease when it saw no other run's unexpired claim on any of
   them; otherwise it deletes its claim and tries again after a short random
   pause.

Two runs that reach one provider in common never both hold the lease: of
their two reads there, the later one sees the other run's claim, which had
arrived before the earlier read. Claims are separate entries, each written
only by its holder, so replication never replaces one run's claim by
another's. A holder renews its own claim; a claim whose holder died expires
and the next run that sees it deletes it. A claim that does not reach a
reachable provider within a third of the lease length means replication is
not running: the run stops as unavailable rather than guess.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from datetime import datetime

from sync import stop
from sync.clock import now
from sync.core import dn as dnlib
from sync.core.lease import Lease, blocking, granted, parse_lease
from sync.errors import (
    AlreadyExists,
    DirectoryError,
    DirectoryUnavailable,
    InsufficientAccess,
    LeaseConflict,
    LockBusy,
    SyncError,
)
from sync.ldap.directory import Directory
from sync.settings import LdapSettings

log = logging.getLogger("portal_sync.lock")

_CONTAINER = "portal-sync lease: one claim per run below"
_PAUSE = (0.05, 0.4)
_ARRIVAL_POLL = 0.01


class ReplicatedLease:
    """The run lease taken by claims seen on every reachable provider of `ldap.url`."""

    def __init__(
        self, ldap: LdapSettings, dn: str, seconds: float, holder: str, setting: str = ""
    ) -> None:
        self.dn = dn
        self.setting = setting or ldap.name_of("base_dn")
        """Where the lease DN (or the base DN it is under) was set."""
        self.seconds = seconds
        self.holder = holder
        self.claim_dn = f"{dnlib.rdn('cn', holder)},{dn}"
        self._ldap = ldap
        self._held: str | None = None
        self._renewing: threading.Thread | None = None
        self._stop_renewing = threading.Event()
        self.lost = threading.Event()

    def acquire(self, deadline: float, cancel: threading.Event) -> None:
        """Take the lease, waiting until the monotonic `deadline`, or raise LockBusy."""
        waiting = False
        while True:
            blocker = self._try()
            if blocker is None:
                self.lost.clear()
                self._start_renewing()
                return
            if not waiting and time.monotonic() < deadline:
                waiting = True
                log.info("waiting for the lease %s: %s", self.dn, blocker.describe(now()))
            if time.monotonic() >= deadline or cancel.wait(random.uniform(*_PAUSE)):
                stop.requested.check()
                raise LockBusy(
                    f"another portal-sync run holds the lease {self.dn}: {blocker.describe(now())}"
                )

    def _try(self) -> Lease | None:
        """Claim the lease once; return the other run's claim in the way, or None when held."""
        at = now()
        mine = granted(self.holder, at, self.seconds).to_value()
        stop.requested.check()
        with self._providers() as providers:
            first_url, first = providers[0]
            if first.read_lease(self.dn) is None:
                first.require_base(dnlib.parent_dn(self.dn), self.setting)
                with suppress(AlreadyExists):
                    first.create_lease(self.dn, _CONTAINER)
            try:
                first.create_lease(self.claim_dn, mine)
            except AlreadyExists:
                first.swap_lease(self.claim_dn, first.read_lease(self.claim_dn) or (), mine)
            except InsufficientAccess as exc:
                raise InsufficientAccess(
                    f"{exc}: on a replicated directory the runs' claims go below the lease "
                    f"entry; give {self._ldap.bind_dn} write access to {self.dn} and below it "
                    "(dn.subtree, config/slapd/acl.ldif)"
                ) from exc
            self._held = mine
            try:
                for url, directory in providers:
                    self._wait_arrived(directory, mine, first_url, url)
                    claims = directory.read_claims(self.dn)
                    values = (*(directory.read_lease(self.dn) or ()), *_values(claims))
                    if blocker := blocking(values, self.holder, at):
                        self._withdraw(first)
                        return blocker
                    self._remove_expired(first, claims, at)
            except BaseException:
                with suppress(DirectoryError):
                    self._withdraw(first)
                raise
        return None

    @contextmanager
    def _providers(self) -> Iterator[list[tuple[str, Directory]]]:
        """Yield a directory open on each reachable server of the list, in the list's order."""
        with ExitStack() as stack:
            providers: list[tuple[str, Directory]] = []
            failures: list[str] = []
            for url in self._ldap.urls:
                one = self._ldap.model_copy(update={"url": url})
                try:
                    providers.append((url, stack.enter_context(Directory.open(one))))
                except DirectoryUnavailable as exc:
                    failures.append(str(exc))
            if not providers:
                raise DirectoryUnavailable(
                    f"taking the lease {self.dn}: none of the {len(failures)} servers of "
                    f"{self._ldap.name_of('url')} answered: " + "; ".join(failures)
                )
            yield providers

    def _wait_arrived(self, directory: Directory, mine: str, first: str, url: str) -> None:
        """Wait until the claim written on `first` is on the server at `url`."""
        limit = time.monotonic() + self.seconds / 3
        while mine not in (directory.read_lease(self.claim_dn) or ()):
            if time.monotonic() >= limit:
                raise DirectoryUnavailable(
                    f"the lease claim {self.claim_dn} written on {first} has not reached {url} "
                    f"after {self.seconds / 3:g} s: replication between the servers of "
                    f"{self._ldap.name_of('url')} is not running; fix it, or leave out the "
                    "server that does not replicate"
                )
            time.sleep(_ARRIVAL_POLL)

    def _withdraw(self, directory: Directory) -> None:
        """Delete this run's claim."""
        self._held = None
        directory.delete_lease(self.claim_dn)

    def _remove_expired(
        self, directory: Directory, claims: dict[str, tuple[str, ...]], at: datetime
    ) -> None:
        """Delete the claims of other runs that expired (their holder died)."""
        for dn, values in claims.items():
            leases = [parse_lease(value) for value in values]
            if (
                dn.lower() != self.claim_dn.lower()
                and leases
                and all(
                    lease is not None and lease.holder != self.holder and lease.expires <= at
                    for lease in leases
                )
            ):
                log.info("removing the expired lease claim %s", dn)
                directory.delete_lease(dn)

    def renew(self) -> bool:
        """Extend the claim; return False when it is gone (the lease is lost)."""
        if self._held is None:
            return False
        mine = granted(self.holder, now(), self.seconds).to_value()
        held = self._held
        try:
            self._on_one_server(lambda d: d.swap_lease(self.claim_dn, (held,), mine))
        except LeaseConflict:
            log.error("the lease claim %s was removed while this run held it", self.claim_dn)
            self._held = None
            self.lost.set()
            return False
        except SyncError as exc:
            log.warning("could not renew the lease claim %s, will try again: %s", self.dn, exc)
            return True
        self._held = mine
        return True

    def release(self) -> None:
        """Stop renewing and delete the claim; a failure only leaves it to expire."""
        self._stop_renewing.set()
        if self._renewing is not None:
            self._renewing.join()
            self._renewing = None
        if self._held is None:
            return
        try:
            self._on_one_server(lambda directory: directory.delete_lease(self.claim_dn))
        except SyncError as exc:
            log.warning("could not release the lease %s; it expires by itself: %s", self.dn, exc)
        self._held = None

    def _on_one_server(self, change: Callable[[Directory], None]) -> None:
        """Make `change` on the first server of the list that answers and takes it.

        A server that fails on the way (one dying accepts the connection and
        then resets it) passes the change to the next; claims replicate.
        """
        failures: list[str] = []
        for url in self._ldap.urls:
            try:
                with Directory.open(self._ldap.model_copy(update={"url": url})) as directory:
                    change(directory)
                return
            except DirectoryUnavailable as exc:
                failures.append(str(exc))
        raise DirectoryUnavailable("; ".join(failures))

    def _start_renewing(self) -> None:
        self._stop_renewing.clear()
        self._renewing = threading.Thread(target=self._renew_loop, name="lease", daemon=True)
        self._renewing.start()

    def _renew_loop(self) -> None:
        while not self._stop_renewing.wait(self.seconds / 3):
            if not self.renew():
                return


def _values(claims: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Return the lease values of all claims."""
    return tuple(value for found in claims.values() for value in found)
