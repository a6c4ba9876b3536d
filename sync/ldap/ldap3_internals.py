"""Every use of ldap3's private API and of its receiver thread's habits, in one place.

The pipelined writes send requests that `sync.ldap.ber` encoded, on an
asynchronous ldap3 connection, and take the answers with ldap3's
`get_response`. ldap3 2.9 has no public way to send bytes of one's own, so
`post` registers each request the way `AsyncStrategy.send` does: a
placeholder in `strategy._outstanding` (get_response refuses a message id it
does not find there) and, through the public `post_send_single_response`,
the event the answer sets. Because the placeholder is no real request, the
write connection follows no referral (`WRITER_OPTIONS`): ldap3 would resend
the placeholder to the referred server and fail.

ldap3's receiver thread has two habits to work around. While a receive
timeout is set, it `continue`s on every socket error, so after the socket
closes it would poll it forever at 100 % CPU: `close` clears the timeout
first, closes, and waits for the thread to end, so that a closed directory
leaves no thread behind. And when the connection dies between a request and
its answer, the thread drops its table of requests: get_response then fails
with AttributeError or TypeError, which `answer` turns into the socket error
it is.

`require` checks, before the first connection of a run opens, that the
installed ldap3 still has what this module relies on, and stops the run with
a message naming the ldap3 version when it has not.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from typing import Any

import ldap3
from ldap3 import ASYNC, NONE, Connection, Server
from ldap3.core import exceptions as ldap_exc
from ldap3.strategy.asynchronous import AsyncStrategy

from sync.errors import ConfigurationError
from sync.ldap import ber

log = logging.getLogger("portal_sync")

TESTED = "2.9.1"
"""The ldap3 release this module was written and tested against."""

WRITER_OPTIONS: dict[str, Any] = {"client_strategy": ASYNC, "auto_referrals": False}
"""ldap3 Connection options of the write connection."""

SERIAL_WRITER_OPTIONS: dict[str, Any] = {"auto_referrals": False}
"""ldap3 Connection options of the write connection over TLS: synchronous, no receiver thread.

ldap3's receiver thread reads the TLS socket while the run's thread writes
to it: two threads on one OpenSSL connection at once. Against Samba AD over
LDAPS that lost answers (ldap3's "no response from server" after the
timeout) in most runs of 1,100 adds, with 64 requests in flight and with
one; over plain LDAP, and over LDAPS with one thread, none were lost.
"""


def pipelines(writer: Connection) -> bool:
    """Return whether the write connection takes several requests in flight (asynchronous)."""
    return isinstance(writer.strategy, AsyncStrategy)


def exchange(writer: Connection, operation: bytes, controls: tuple[str, ...] = ()) -> None:
    """Send one encoded request on a synchronous connection and read its answer in this thread.

    Raise ldap3's exception for a refusal, as `answer` does.
    """
    strategy = writer.strategy
    with writer.connection_lock:
        if writer.closed or writer.socket is None:
            raise ldap_exc.LDAPSocketOpenError("the write connection is closed")
        message_id: int = writer.server.next_message_id()
        strategy._outstanding[message_id] = {"type": "writeRequest"}
        try:
            writer.socket.sendall(ber.message(message_id, operation, controls))
        except OSError as exc:
            raise ldap_exc.LDAPSocketSendError(f"sending to the directory failed: {exc}") from exc
        strategy.post_send_single_response(message_id)


def missing() -> list[str]:
    """Return the names this module relies on that the installed ldap3 lacks (none for 2.9)."""
    lacking = [
        f"AsyncStrategy.{name}"
        for name in ("post_send_single_response", "ReceiverSocketThread")
        if name not in vars(AsyncStrategy)
    ]
    connection = Connection(Server("ldap://localhost", get_info=NONE), **WRITER_OPTIONS)
    strategy = connection.strategy
    lacking += [
        f"AsyncStrategy().{name}"
        for name in ("_outstanding", "receiver")
        if not hasattr(strategy, name)
    ]
    lacking += [
        f"Connection.{name}"
        for name in ("receive_timeout", "connection_lock", "socket", "closed")
        if not hasattr(connection, name)
    ]
    return lacking


def require() -> None:
    """Raise ConfigurationError, naming the ldap3 version, when ldap3 lacks what is used here."""
    lacking = missing()
    if lacking:
        raise ConfigurationError(
            f"ldap3 {ldap3.__version__} has no {', '.join(lacking)}, which portal-sync's "
            f"pipelined writes use (sync.ldap.ldap3_internals, written for ldap3 {TESTED}): "
            "install ldap3 2.9 (pip install 'ldap3>=2.9,<2.10')"
        )


def post(writer: Connection, operation: bytes, controls: tuple[str, ...] = ()) -> int:
    """Send one encoded request on the asynchronous connection; return its message id.

    ldap3's pyasn1 encoder is bypassed (see sync.ldap.ber), but the request is
    registered the way ldap3's asynchronous strategy registers its own, so
    get_response and the receiver thread treat the answer as usual.
    """
    strategy = writer.strategy
    with writer.connection_lock:
        if writer.closed or writer.socket is None:
            raise ldap_exc.LDAPSocketOpenError("the write connection is closed")
        message_id: int = writer.server.next_message_id()
        strategy._outstanding[message_id] = {"type": "writeRequest"}
        strategy.post_send_single_response(message_id)
        try:
            writer.socket.sendall(ber.message(message_id, operation, controls))
        except OSError as exc:
            raise ldap_exc.LDAPSocketSendError(f"sending to the directory failed: {exc}") from exc
    return message_id


def answer(writer: Connection, message_id: int, timeout: float) -> None:
    """Wait for the answer to one request; raise ldap3's exception for a refusal."""
    try:
        writer.get_response(message_id, timeout=timeout)
    except (AttributeError, TypeError) as exc:
        # The receiver thread dropped its table of requests: the connection died
        # between the request and its answer.
        raise ldap_exc.LDAPSocketReceiveError(f"the write connection was closed: {exc}") from exc


def close(writer: Connection, wait: float) -> None:
    """Unbind the write connection and wait up to `wait` seconds for its receiver to end."""
    writer.receive_timeout = None
    receiver = getattr(writer.strategy, "receiver", None)
    with suppress(ldap_exc.LDAPException):
        writer.unbind()
    if not writer.closed:
        with suppress(ldap_exc.LDAPException, OSError):
            writer.strategy.close()
    if receiver is not None:
        receiver.join(wait)
        if receiver.is_alive():
            log.warning("the write connection's receiver thread did not end within %g s", wait)
