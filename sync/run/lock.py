"""The run lock: one writing run at a time, on this host and across hosts.

Two locks, taken in this order and held for one run:

- a file lock (`flock`) on `run.lock` in the state directory: free, and the
  kernel drops it when the process dies, however it dies;
- a lease in the directory (see `sync.core.lease`), for daemons on several hosts
  writing to one directory. It is taken and renewed with a compare-and-swap
  modify (delete the exact old value, add the new one: atomic, and refused
  when another run changed the value in between). A holder that crashes
  keeps it only until it expires; a live holder renews it every third of
  its length from a background thread. When `ldap.url` lists the providers
  of a replicated directory, the lease is taken by claims seen on every
  reachable provider instead (`sync.run.replicated_lease`).
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sync import stop
from sync.clock import now
from sync.core import dn as dnlib
from sync.core.lease import Lease, blocking, granted, released
from sync.core.report import STOPPING, Outcome, Report, outcome_of
from sync.errors import (
    AlreadyExists,
    ConfigurationError,
    InsufficientAccess,
    LeaseConflict,
    LockBusy,
    SyncError,
)
from sync.files import open_private
from sync.ldap.directory import Directory
from sync.run.replicated_lease import ReplicatedLease
from sync.run.sync import run_sync
from sync.settings import LdapSettings, Settings

log = logging.getLogger("portal_sync.lock")

_POLL = 0.1
_LEASE_POLL = 0.2


def new_holder() -> str:
    """Return a lease holder name unique to this process: host, PID and a random nonce."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class FileLock:
    """An exclusive `flock` on one file; the file names the holder for people."""

    def __init__(self, path: Path, setting: str = "PORTAL_SYNC_STATE_DIR") -> None:
        self.path = path
        self.setting = setting
        """Where the state directory was set, for the message when the file cannot be opened."""
        self._file: IO[str] | None = None

    def acquire(self, deadline: float, cancel: threading.Event) -> bool:
        """Take the lock, waiting until the monotonic `deadline`; return whether it was taken."""
        try:
            handle = os.fdopen(
                open_private(self.path, os.O_RDWR | os.O_APPEND), "a+", encoding="utf-8"
            )
        except OSError as exc:
            raise ConfigurationError(
                f"cannot open the lock file {self.path}: {exc.strerror}; "
                f"fix {self.setting} or its permissions"
            ) from exc
        waiting = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not waiting and time.monotonic() < deadline:
                    waiting = True
                    log.info("waiting for the run lock %s: %s", self.path, self.holder())
                if time.monotonic() >= deadline or cancel.wait(_POLL):
                    handle.close()
                    stop.requested.check()
                    return False
                continue
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()} since {now().isoformat(timespec='seconds')}\n")
            handle.flush()
            self._file = handle
            return True

    def release(self) -> None:
        """Give the lock back."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def busy(self) -> bool:
        """Return whether another process holds the lock now, without taking it."""
        try:
            with self.path.open("rb") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:
            return False
        return False

    def holder(self) -> str:
        """Return what the lock file says about its holder."""
        try:
            return self.path.read_text(encoding="utf-8").strip() or "unknown holder"
        except OSError:
            return "unknown holder"


class DirectoryLease:
    """The lease entry in the directory, taken and renewed by compare-and-swap."""

    def __init__(
        self, ldap: LdapSettings, dn: str, seconds: float, holder: str, setting: str = ""
    ) -> None:
        self.dn = dn
        self.setting = setting or ldap.name_of("base_dn")
        """Where the lease DN (or the base DN it is under) was set."""
        self.seconds = seconds
        self.holder = holder
        self._ldap = ldap
        self._held: str | None = None
        self._renewing: threading.Thread | None = None
        self._stop_renewing = threading.Event()
        self.lost = threading.Event()

    def acquire(self, deadline: float, cancel: threading.Event) -> None:
        """Take the lease, waiting until the monotonic `deadline`, or raise LockBusy."""
        waiting = False
        races = 0
        while True:
            try:
                blocker = self._try()
            except (AlreadyExists, LeaseConflict):
                races += 1
                log.debug("lost the race for the lease %s; reading it again", self.dn)
                if races > 3 and (time.monotonic() >= deadline or cancel.wait(_LEASE_POLL)):
                    stop.requested.check()
                    raise LockBusy(f"other runs keep taking the lease {self.dn}") from None
                continue
            if blocker is None:
                self.lost.clear()
                self._start_renewing()
                return
            if not waiting and time.monotonic() < deadline:
                waiting = True
                log.info("waiting for the lease %s: %s", self.dn, blocker.describe(now()))
            if time.monotonic() >= deadline or cancel.wait(_LEASE_POLL):
                stop.requested.check()
                raise LockBusy(
                    f"another portal-sync run holds the lease {self.dn}: {blocker.describe(now())}"
                )

    def _try(self) -> Lease | None:
        """Take the lease once; return the lease in the way, or None when taken.

        Raise AlreadyExists or LeaseConflict when another run wrote it meanwhile.
        """
        at = now()
        mine = granted(self.holder, at, self.seconds).to_value()
        stop.requested.check()
        with Directory.open(self._ldap) as directory:
            values = directory.read_lease(self.dn)
            if values is not None and (blocker := blocking(values, self.holder, at)):
                return blocker
            if values is None:
                directory.require_base(dnlib.parent_dn(self.dn), self.setting)
                try:
                    directory.create_lease(self.dn, mine)
                except AlreadyExists:
                    if directory.read_lease(self.dn) is None:
                        raise InsufficientAccess(
                            f"the lease entry {self.dn} exists but {self._ldap.bind_dn} cannot "
                            "read it: give the sync account write access to it "
                            "(config/slapd/acl.ldif)"
                        ) from None
                    raise
            else:
                directory.swap_lease(self.dn, values, mine)
        self._held = mine
        return None

    def renew(self) -> bool:
        """Extend the lease; return False when another run took it (the lease is lost)."""
        if self._held is None:
            return False
        mine = granted(self.holder, now(), self.seconds).to_value()
        try:
            with Directory.open(self._ldap) as directory:
                directory.swap_lease(self.dn, (self._held,), mine)
        except LeaseConflict:
            log.error("the lease %s was taken by another run while this run held it", self.dn)
            self._held = None
            self.lost.set()
            return False
        except SyncError as exc:
            log.warning("could not renew the lease %s, will try again: %s", self.dn, exc)
            return True
        self._held = mine
        return True

    def release(self) -> None:
        """Stop renewing and give the lease back; a failure only leaves it to expire."""
        self._stop_renewing.set()
        if self._renewing is not None:
            self._renewing.join()
            self._renewing = None
        if self._held is None:
            return
        try:
            with Directory.open(self._ldap) as directory:
                directory.swap_lease(
                    self.dn, (self._held,), released(self.holder, now()).to_value()
                )
        except SyncError as exc:
            log.warning("could not release the lease %s; it expires by itself: %s", self.dn, exc)
        self._held = None

    def _start_renewing(self) -> None:
        self._stop_renewing.clear()
        self._renewing = threading.Thread(target=self._renew_loop, name="lease", daemon=True)
        self._renewing.start()

    def _renew_loop(self) -> None:
        while not self._stop_renewing.wait(self.seconds / 3):
            if not self.renew():
                return


class RunLock:
    """The lock every writing run takes: the file lock, then the directory lease."""

    def __init__(self, settings: Settings, cancel: threading.Event | None = None) -> None:
        self.file = FileLock(settings.state_dir / "run.lock", settings.name_of("state_dir"))
        self.lease: DirectoryLease | ReplicatedLease | None = None
        if settings.lock.lease:
            lock = settings.lock
            dn = lock.lease_dn or f"cn=portal-sync-lock,{settings.ldap.base_dn}"
            setting = lock.name_of("lease_dn") if lock.lease_dn else ""
            kind = ReplicatedLease if len(settings.ldap.urls) > 1 else DirectoryLease
            self.lease = kind(settings.ldap, dn, lock.lease_seconds, new_holder(), setting)
        self._cancel = cancel or threading.Event()

    @contextmanager
    def held(self, wait: float) -> Iterator[None]:
        """Hold the run lock for the body, waiting up to `wait` seconds; else raise LockBusy."""
        deadline = time.monotonic() + wait
        with self.file_held(deadline, wait), self.lease_held(deadline):
            yield

    @contextmanager
    def file_held(self, deadline: float, wait: float) -> Iterator[None]:
        """Hold the file lock, waiting until the monotonic `deadline`; else raise LockBusy."""
        if not self.file.acquire(deadline, self._cancel):
            raise LockBusy(
                f"another portal-sync run on this host holds {self.file.path} "
                f"({self.file.holder()}); waited {wait:g} s"
            )
        try:
            yield
        finally:
            self.file.release()

    @contextmanager
    def lease_held(self, deadline: float) -> Iterator[None]:
        """Hold the directory lease (when on), waiting until `deadline`; else raise LockBusy."""
        if self.lease is None:
            yield
            return
        self.lease.acquire(deadline, self._cancel)
        try:
            yield
        finally:
            self.lease.release()

    def abandon(self) -> None:
        """Give the lease back now, from another thread, when the process must exit mid-run."""
        if self.lease is not None:
            with suppress(Exception):
                self.lease.release()


def locked_run(lock: RunLock, settings: Settings, wait: float, **options: Any) -> Report:
    """Run one sync holding `lock`; raise LockBusy when another run keeps it past `wait` seconds.

    The file lock is taken first, for the whole run; the lease in the directory
    only once the source was read and checked, so a run stopped by its source
    never writes to the directory. When taking the lease fails, the run's
    report says so with the outcome the run itself would have had.
    """
    started = now()
    deadline = time.monotonic() + wait
    try:
        with lock.file_held(deadline, wait):
            return run_sync(settings, hold=lambda: lock.lease_held(deadline), **options)
    except STOPPING as exc:
        return _failed(outcome_of(exc), str(exc), started)


def _failed(outcome: Outcome, message: str, started: datetime) -> Report:
    report = Report(started=started)
    report.fail(outcome, message)
    return report.finish(now())
