"""Who may use the console: internal users in the configured role group, asked every time.

The password is checked by the directory (a bind as the user, through
`Portal.authenticate`, the same as `portal-sync login`); membership of the
role group is read from the directory at the login and again on every
request, so a user taken out of the group is out at the next click. Every
refusal looks the same to the person refused; the log says why.
"""

from __future__ import annotations

import fcntl
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from sync.core import dn as dnlib
from sync.core.entry import EntryKey, Kind
from sync.files import private_directory, write_private
from sync.ldap.connection import password_accepted
from sync.portal.login import LoginRefused, Portal
from sync.settings import ConsoleSettings

log = logging.getLogger("portal_sync.console")

REFUSED = "Login refused: unknown user, wrong password, or not allowed to use the console."
"""The one message every refused login gets, whatever the reason."""
THROTTLED = "Too many failed logins; wait a few minutes and try again."


@dataclass(frozen=True)
class Staff:
    """A person logged in to the console."""

    login: str
    dn: str


class NotStaff(Exception):
    """The login is refused; the message (for the log only) says why."""


def staff_of(portal: Portal, role_group: str, login: str, dn: str | None = None) -> Staff:
    """Return the internal user with this login if they are in the role group; NotStaff if not.

    With `dn`, the login must still name that same entry (a renamed or
    replaced user does not inherit a session).
    """
    try:
        found_dn, kind = portal.find(login)
    except LoginRefused as exc:
        raise NotStaff(f"no single user with login {login!r}") from exc
    if kind is not Kind.INTERNAL:
        raise NotStaff(f"{login!r} is an {kind.value} user, not one of the shop's staff")
    if dn is not None and dnlib.normalize_dn(found_dn) != dnlib.normalize_dn(dn):
        raise NotStaff(f"login {login!r} now names another entry ({found_dn})")
    if not in_role_group(portal, role_group, found_dn):
        raise NotStaff(f"{login!r} is not a member of the role group {role_group!r}")
    return Staff(login, found_dn)


def in_role_group(portal: Portal, role_group: str, dn: str) -> bool:
    """Return whether the managed role group of this name holds `dn` as a member."""
    mapping = portal.mapping
    members = mapping.kinds[Kind.ROLE].members
    identity = mapping.identity_value(EntryKey.of(Kind.ROLE, role_group.casefold()))
    query = (
        f"(&({mapping.identity_attribute}={dnlib.escape_filter_value(identity)})"
        f"({members}={dnlib.escape_filter_value(dn)}))"
    )
    return bool(portal.directory.search(portal.settings.tree.base(Kind.ROLE), query, ("1.1",)))


def log_in(portal: Portal, role_group: str, login: str, password: str) -> Staff:
    """Return the staff member when the directory accepts the password; NotStaff otherwise.

    Every attempt takes the same steps, whatever it ends in: the login is
    looked up, a bind is tried (as an entry that does not exist when the
    login names no single user, with a stand-in for an empty password), and
    the role group is asked about the entry. Only then is the answer given,
    so that the work done does not tell a right password from a wrong one.
    """
    found = portal.candidates(login)
    internal = portal.settings.tree.base(Kind.INTERNAL)
    nobody = f"{portal.mapping.kinds[Kind.INTERNAL].rdn}={secrets.token_hex(8)},{internal}"
    dn, kind = found[0] if len(found) == 1 else (nobody, None)
    accepted = password_accepted(portal.settings.ldap, dn, password or secrets.token_hex(8))
    member = in_role_group(portal, role_group, dn)
    if not password:
        raise NotStaff("empty password")
    if kind is None:
        raise NotStaff(f"no single user with login {login!r}")
    if not accepted:
        raise NotStaff(f"wrong password for {login!r}")
    if kind is not Kind.INTERNAL:
        raise NotStaff(f"{login!r} is an {kind.value} user, not one of the shop's staff")
    if not member:
        raise NotStaff(f"{login!r} is not a member of the role group {role_group!r}")
    return Staff(login, dn)


CLIENT_FACTOR = 10
"""A client address may fail this many times more often than one login name (a shop's
staff often share one proxy or NAT address)."""


class Attempts:
    """Failed logins counted per login name and per client address in a moving window."""

    def __init__(self, settings: ConsoleSettings) -> None:
        window = round(settings.login_window)
        self._per_login = RateLimitItemPerSecond(settings.login_attempts, window)
        self._per_client = RateLimitItemPerSecond(settings.login_attempts * CLIENT_FACTOR, window)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def allowed(self, login: str, client: str) -> bool:
        """Return whether another try is allowed for this login from this client."""
        return self._limiter.test(self._per_login, "login", login.casefold()) and (
            self._limiter.test(self._per_client, "client", client)
        )

    def failed(self, login: str, client: str) -> None:
        """Count one failed login."""
        self._limiter.hit(self._per_login, "login", login.casefold())
        self._limiter.hit(self._per_client, "client", client)


class EndedSessions:
    """Sessions logged out before their cookie expired, kept in a file until it would have.

    A signed cookie stays valid wherever a copy of it is kept; this list
    makes a logout final. It lives in a file (`console.ended_sessions`, by
    default in the state directory), so a restart keeps it, and daemons
    that share the signing key and the file end each other's sessions.
    Each check reads the file again when it changed; each logout adds to it
    under a lock (flock) and replaces it whole (`write_private`). A copy of
    a cookie was signed at the latest at the logout, so `lifetime` after
    the logout it has expired anyway and the session leaves the list.
    """

    def __init__(self, path: Path, lifetime: float) -> None:
        self.path = path
        self._lifetime = lifetime
        self._ended: dict[str, float] = {}
        self._seen: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def _stamp(self) -> tuple[int, int] | None:
        try:
            found = self.path.stat()
        except FileNotFoundError:
            return None
        return found.st_mtime_ns, found.st_size

    def _read(self) -> None:
        stamp = self._stamp()
        if stamp == self._seen:
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8")) if stamp else {}
        except (OSError, ValueError) as exc:
            log.error("cannot read the ended console sessions in %s: %s", self.path, exc)
            return
        if isinstance(data, dict):
            self._ended = {
                str(sid): float(until)
                for sid, until in data.items()
                if isinstance(until, int | float)
            }
        self._seen = stamp

    def add(self, sid: object) -> None:
        """Remember that the session `sid` ended, for every daemon that reads the file."""
        if not isinstance(sid, str):
            return
        moment = time.time()
        with self._lock:
            self._ended[sid] = moment + self._lifetime
            try:
                private_directory(self.path.parent)
                with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
                    fcntl.flock(lock, fcntl.LOCK_EX)
                    self._seen = None
                    self._read()
                    self._ended[sid] = moment + self._lifetime
                    self._ended = {k: t for k, t in self._ended.items() if t > moment}
                    write_private(self.path, json.dumps(self._ended))
                    self._seen = self._stamp()
            except OSError as exc:
                log.error(
                    "cannot keep the ended console session in %s (this daemon still refuses "
                    "it until it stops): %s",
                    self.path,
                    exc,
                )

    def holds(self, sid: object) -> bool:
        """Return whether the session `sid` was logged out, here or by another daemon."""
        if not isinstance(sid, str):
            return False
        with self._lock:
            self._read()
            return self._ended.get(sid, 0.0) > time.time()
