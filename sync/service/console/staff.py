"""Who may use the console: internal users in the configured role group, asked every time.

The password is checked by the directory (a bind as the user, through
`Portal.authenticate`, the same as `portal-sync login`); membership of the
role group is read from the directory at the login and again on every
request, so a user taken out of the group is out at the next click. Every
refusal looks the same to the person refused; the log says why.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from sync.core import dn as dnlib
from sync.core.entry import EntryKey, Kind
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
    """Return the staff member when the directory accepts the password; NotStaff otherwise."""
    if not password:
        raise NotStaff("empty password")
    try:
        user = portal.authenticate(login, password)
    except LoginRefused as exc:
        raise NotStaff(f"unknown login {login!r} or wrong password") from exc
    return staff_of(portal, role_group, user.login, user.dn)


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
    """Sessions logged out before their cookie expired, remembered until it would have.

    A signed cookie stays valid wherever a copy of it is kept; this list
    makes a logout final for this process (a restart forgets it, and a
    random signing key then ends every session anyway).
    """

    def __init__(self, lifetime: float) -> None:
        self._lifetime = lifetime
        self._ended: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, sid: object) -> None:
        """Remember that the session `sid` ended."""
        if not isinstance(sid, str):
            return
        moment = time.monotonic()
        with self._lock:
            self._ended = {k: t for k, t in self._ended.items() if moment - t < self._lifetime}
            self._ended[sid] = moment

    def holds(self, sid: object) -> bool:
        """Return whether the session `sid` was logged out."""
        with self._lock:
            return isinstance(sid, str) and sid in self._ended
