"""The one place that talks to the LDAP server through ldap3.

Every ldap3 exception is translated here, once, into `sync.errors`; nothing
above this module imports ldap3.
"""

from __future__ import annotations

import math
import ssl
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from ldap3 import (
    ASYNC,
    BASE,
    MODIFY_ADD,
    MODIFY_DELETE,
    MODIFY_REPLACE,
    NONE,
    SUBTREE,
    Connection,
    Server,
    Tls,
)
from ldap3.core import exceptions as ldap_exc

from sync.core import dn as dnlib
from sync.core.plan import Change, Op
from sync.errors import (
    AlreadyExists,
    BindFailed,
    ConfigurationError,
    DirectoryError,
    DirectoryUnavailable,
    EntryRejected,
    InsufficientAccess,
    LeaseConflict,
    NoSuchEntry,
    NoSuchValue,
)
from sync.ldap import ber
from sync.settings import LdapSettings

_SIZE_LIMIT_EXCEEDED = 4
_UNKNOWN_CA = "CERTIFICATE_VERIFY_FAILED"
_OTHER_HOST = "doesn't match any name"
_NO_TLS = "socket ssl wrapping error"
_NO_ADDRESS = "invalid server address"

_UNAVAILABLE = (
    ldap_exc.LDAPCommunicationError,
    ldap_exc.LDAPResponseTimeoutError,
    ldap_exc.LDAPBusyResult,
    ldap_exc.LDAPUnavailableResult,
    ldap_exc.LDAPServerPoolExhaustedError,
    ldap_exc.LDAPMaximumRetriesError,
)


@contextmanager
def translated(action: str) -> Iterator[None]:
    """Translate ldap3's exceptions raised while doing `action` into ours."""
    try:
        yield
    except _UNAVAILABLE as exc:
        raise DirectoryUnavailable(f"{action}: the directory server is unavailable: {exc}") from exc
    except (ldap_exc.LDAPInvalidCredentialsResult, ldap_exc.LDAPBindError) as exc:
        raise BindFailed(f"{action}: the server refused the bind: {exc}") from exc
    except ldap_exc.LDAPInsufficientAccessRightsResult as exc:
        raise InsufficientAccess(f"{action}: insufficient access rights: {exc}") from exc
    except ldap_exc.LDAPNoSuchObjectResult as exc:
        raise NoSuchEntry(f"{action}: no such entry: {exc}") from exc
    except ldap_exc.LDAPEntryAlreadyExistsResult as exc:
        raise AlreadyExists(f"{action}: an entry already exists there") from exc
    except ldap_exc.LDAPSizeLimitExceededResult as exc:
        raise ConfigurationError(
            f"{action}: the server capped the search (size limit): lift the size limit of the "
            'sync account, e.g. limits dn.exact="<bind DN>" size.prtotal=unlimited'
        ) from exc
    except (ldap_exc.LDAPSSLConfigurationError, ldap_exc.LDAPStartTLSError) as exc:
        raise ConfigurationError(f"{action}: TLS set-up failed: {exc}") from exc
    except ldap_exc.LDAPNoSuchAttributeResult as exc:
        raise NoSuchValue(f"{action}: {exc.description}: {exc.message}".rstrip(": ")) from exc
    except ldap_exc.LDAPOperationResult as exc:
        raise EntryRejected(f"{action}: {exc.description}: {exc.message}".rstrip(": ")) from exc
    except ldap_exc.LDAPException as exc:
        raise DirectoryError(f"{action}: {exc}") from exc


Refusal = AlreadyExists | EntryRejected | NoSuchEntry
"""A change the server refused for its content: a record error, the run carries on."""


class Directory:
    """A bound connection to the directory, reused for a whole run."""

    def __init__(
        self,
        connection: Connection,
        page_size: int,
        open_writer: Callable[[], Connection] | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._connection = connection
        self._page_size = page_size
        self._open_writer = open_writer
        self._writer: Connection | None = None
        self._timeout = timeout
        self.base_setting = "PORTAL_SYNC_LDAP__BASE_DN"
        """Where the base DN was set, for the message when it does not exist."""

    @classmethod
    @contextmanager
    def open(cls, settings: LdapSettings) -> Iterator[Directory]:
        """Yield a directory bound with the service account; unbind at the end."""
        connection = bound_connection(
            settings,
            settings.bind_dn,
            settings.bind_password.get_secret_value(),
            return_empty_attributes=False,
        )

        def open_writer() -> Connection:
            return bound_connection(
                settings,
                settings.bind_dn,
                settings.bind_password.get_secret_value(),
                client_strategy=ASYNC,
            )

        directory = cls(connection, settings.page_size, open_writer, settings.timeout)
        directory.base_setting = settings.name_of("base_dn")
        try:
            yield directory
        finally:
            with suppress(ldap_exc.LDAPException):
                connection.unbind()
            if directory._writer is not None:
                # With a receive timeout set, ldap3's receiver thread keeps polling the
                # closed socket forever (100 % CPU); without one it ends at the close.
                directory._writer.receive_timeout = None
                with suppress(ldap_exc.LDAPException):
                    directory._writer.unbind()

    def exists(self, dn: str) -> bool:
        """Return whether an entry exists at `dn`."""
        try:
            with translated(f"reading {dn}"):
                self._connection.search(dn, "(objectClass=*)", BASE, attributes=["1.1"])
        except NoSuchEntry:
            return False
        return True

    def require_base(self, base_dn: str, setting: str | None = None) -> None:
        """Raise ConfigurationError when the base DN does not exist; `setting` holds the DN."""
        if not self.exists(base_dn):
            raise ConfigurationError(
                f"the base DN {base_dn} does not exist in the directory: "
                f"create it or fix {setting or self.base_setting}"
            )

    def read_managed(
        self, bases: Iterable[str], identity_attribute: str, prefix: str, attributes: Iterable[str]
    ) -> Iterator[tuple[str, dict[str, tuple[str, ...]]]]:
        """Yield (dn, attributes) of every entry below `bases` whose identity has `prefix`."""
        search_filter = f"({identity_attribute}={dnlib.escape_filter_value(prefix)}*)"
        wanted = list(attributes)
        seen: set[str] = set()
        for base in bases:
            if not self.exists(base):
                continue
            with translated(f"searching {base}"):
                results: Iterable[dict[str, Any]] = self._connection.extend.standard.paged_search(
                    base,
                    search_filter,
                    SUBTREE,
                    attributes=wanted,
                    paged_size=self._page_size,
                    generator=True,
                )
                for item in results:
                    if item.get("type") != "searchResEntry":
                        continue
                    dn = item["dn"]
                    normalized = dn.lower()
                    if normalized in seen:
                        continue
                    seen.add(normalized)
                    yield (
                        dn,
                        {
                            name.lower(): tuple(value.decode("utf-8") for value in values)
                            for name, values in item["raw_attributes"].items()
                        },
                    )
            _require_complete(self._connection, f"searching {base}")

    def read_identities(
        self,
        bases: Iterable[str],
        identity_attribute: str,
        values: Iterable[str],
        attributes: Iterable[str],
    ) -> Iterator[tuple[str, dict[str, tuple[str, ...]]]]:
        """Yield (dn, attributes) of every entry below `bases` holding one of these identities."""
        return self.read_holding(bases, identity_attribute, values, attributes)

    def read_holding(
        self,
        bases: Iterable[str],
        attribute: str,
        values: Iterable[str],
        attributes: Iterable[str],
        chunk: int = 200,
    ) -> Iterator[tuple[str, dict[str, tuple[str, ...]]]]:
        """Yield (dn, attributes) of every entry below `bases` whose `attribute` holds a value."""
        wanted = list(attributes)
        pending = sorted(set(values))
        existing = [base for base in bases if self.exists(base)]
        seen: set[str] = set()
        for start in range(0, len(pending), chunk):
            terms = "".join(
                f"({attribute}={dnlib.escape_filter_value(value)})"
                for value in pending[start : start + chunk]
            )
            for base in existing:
                with translated(f"searching {base}"):
                    self._connection.search(base, f"(|{terms})", SUBTREE, attributes=wanted)
                    for item in self._connection.response or ():
                        if item.get("type") != "searchResEntry":
                            continue
                        normalized = item["dn"].lower()
                        if normalized in seen:
                            continue
                        seen.add(normalized)
                        yield item["dn"], _decoded(item["raw_attributes"])
                    _require_complete(self._connection, f"searching {base}")

    def apply(self, change: Change) -> None:
        """Write one change."""
        with translated(f"{change.op.value} {change.dn}"):
            _send(self._connection, change)

    def apply_pipelined(
        self, changes: Iterable[Change], window: int
    ) -> Iterator[tuple[Change, Refusal | None]]:
        """Write changes with up to `window` in flight on one connection; yield each answer.

        Answers come in the order the changes were given, each with the
        server's refusal or None. Two changes to one DN never overlap. When
        the iterator ends every change has its answer. A transient failure
        raises DirectoryUnavailable; changes whose answer was not yielded
        may or may not have been written.
        """
        if self._writer is None:
            assert self._open_writer is not None
            with translated("opening the write connection"):
                self._writer = self._open_writer()
        writer = self._writer
        in_flight: deque[tuple[Any, Change]] = deque()
        busy: dict[str, int] = {}
        for change in changes:
            targets = [change.dn.lower()]
            if change.new_dn:
                targets.append(change.new_dn.lower())
            while in_flight and (len(in_flight) >= window or any(t in busy for t in targets)):
                yield self._answer(writer, in_flight, busy)
            with translated(f"{change.op.value} {change.dn}"):
                message_id = _post(writer, _encoded(change), _controls(change))
            in_flight.append((message_id, change))
            for target in targets:
                busy[target] = busy.get(target, 0) + 1
        while in_flight:
            yield self._answer(writer, in_flight, busy)

    def _answer(
        self, writer: Connection, in_flight: deque[tuple[Any, Change]], busy: dict[str, int]
    ) -> tuple[Change, Refusal | None]:
        """Wait for the oldest change in flight; return it with its refusal, if any."""
        message_id, change = in_flight.popleft()
        for target in (change.dn.lower(), change.new_dn.lower() if change.new_dn else None):
            if target is not None:
                busy[target] -= 1
                if not busy[target]:
                    del busy[target]
        try:
            with translated(f"{change.op.value} {change.dn}"):
                try:
                    writer.get_response(message_id, timeout=self._timeout)
                except (AttributeError, TypeError) as exc:
                    # ldap3's receiver thread drops its table of requests when the
                    # connection dies between our wait and its answer.
                    raise ldap_exc.LDAPSocketReceiveError(
                        f"the write connection was closed: {exc}"
                    ) from exc
        except (AlreadyExists, EntryRejected, NoSuchEntry) as refusal:
            return change, refusal
        return change, None

    def read_values(self, dn: str, attribute: str) -> tuple[str, ...]:
        """Return the values of one attribute of the entry at `dn` (none when it has none)."""
        with translated(f"reading {dn}"):
            self._connection.search(dn, "(objectClass=*)", BASE, attributes=[attribute])
        for item in self._connection.response or ():
            if item.get("type") == "searchResEntry":
                return _decoded(item["raw_attributes"]).get(attribute.lower(), ())
        return ()

    def read_lease(self, dn: str) -> tuple[str, ...] | None:
        """Return the values of the lease entry at `dn`, or None when there is no such entry."""
        try:
            with translated(f"reading the lease {dn}"):
                self._connection.search(dn, "(objectClass=*)", BASE, attributes=["description"])
        except NoSuchEntry:
            return None
        found = [r for r in self._connection.response or () if r.get("type") == "searchResEntry"]
        if not found:
            return None
        raw: dict[str, list[bytes]] = found[0].get("raw_attributes", {})
        values: list[bytes] = next((v for k, v in raw.items() if k.lower() == "description"), [])
        return tuple(value.decode("utf-8") for value in values)

    def create_lease(self, dn: str, value: str) -> None:
        """Create the lease entry at `dn` holding `value` (stock applicationProcess class)."""
        attribute, name = dnlib.split_dn(dn)[0]
        with translated(f"creating the lease {dn}"):
            self._connection.add(
                dn, ["applicationProcess"], {attribute: [name], "description": [value]}
            )

    def swap_lease(self, dn: str, old: Iterable[str], new: str) -> None:
        """Replace the lease values `old` by `new` in one atomic modify, or raise LeaseConflict."""
        changes: list[tuple[Any, list[str]]] = [(MODIFY_DELETE, [v]) for v in old]
        changes.append((MODIFY_ADD, [new]))
        with translated(f"writing the lease {dn}"):
            try:
                self._connection.modify(dn, {"description": changes})
            except (
                ldap_exc.LDAPNoSuchAttributeResult,
                ldap_exc.LDAPNoSuchObjectResult,
                ldap_exc.LDAPAttributeOrValueExistsResult,
            ) as exc:
                raise LeaseConflict(f"the lease {dn} changed under us: {exc.description}") from exc


def _encoded(change: Change) -> bytes:
    """Return the BER request of one change."""
    if change.op in (Op.ADD, Op.ADD_CONTAINER):
        return ber.add_request(change.dn, {"objectClass": change.object_classes, **change.replace})
    if change.op is Op.MODIFY:
        return ber.modify_request(
            change.dn,
            [
                *((ber.REPLACE_OPERATION, n, v) for n, v in change.replace.items()),
                *((ber.ADD_OPERATION, n, v) for n, v in change.add_values.items()),
                *((ber.DELETE_OPERATION, n, v) for n, v in change.delete_values.items()),
            ],
        )
    if change.op is Op.DELETE:
        return ber.delete_request(change.dn)
    if change.op is Op.RENAME:
        assert change.new_dn is not None
        new_parent = dnlib.parent_dn(change.new_dn)
        moves = dnlib.normalize_dn(new_parent) != dnlib.normalize_dn(dnlib.parent_dn(change.dn))
        return ber.modify_dn_request(
            change.dn, dnlib.leaf_rdn(change.new_dn), new_parent if moves else None
        )
    raise ValueError(f"unknown operation {change.op}")


def _controls(change: Change) -> tuple[str, ...]:
    """Return the controls of a change: member changes are idempotent (see sync.core.membership)."""
    return (ber.PERMISSIVE_MODIFY,) if change.op is Op.MODIFY else ()


def _post(writer: Connection, operation: bytes, controls: tuple[str, ...] = ()) -> int:
    """Send one encoded request on the asynchronous connection; return its message id.

    This bypasses ldap3's pyasn1 encoder (see sync.ldap.ber) but registers the
    request the way ldap3's asynchronous strategy does, so get_response
    and the receiver thread treat the answer as usual.
    """
    strategy = writer.strategy
    with writer.connection_lock:
        if writer.closed or writer.socket is None:
            raise ldap_exc.LDAPSocketOpenError("the write connection is closed")
        message_id: int = writer.server.next_message_id()
        strategy._outstanding[message_id] = {"type": "writeRequest"}
        strategy._add_event_for_message(message_id)
        try:
            writer.socket.sendall(ber.message(message_id, operation, controls))
        except OSError as exc:
            raise ldap_exc.LDAPSocketSendError(f"sending to the directory failed: {exc}") from exc
    return message_id


def _decoded(raw: dict[str, list[bytes]]) -> dict[str, tuple[str, ...]]:
    """Return raw attribute values as text, attribute names in lower case."""
    return {
        name.lower(): tuple(value.decode("utf-8") for value in values)
        for name, values in raw.items()
    }


def _send(connection: Connection, change: Change) -> Any:
    """Send one change; return ldap3's answer (a result, or a message id when asynchronous)."""
    if change.op in (Op.ADD, Op.ADD_CONTAINER):
        return connection.add(
            change.dn,
            list(change.object_classes),
            {name: list(values) for name, values in change.replace.items()},
        )
    if change.op is Op.RENAME:
        assert change.new_dn is not None
        new_parent = dnlib.parent_dn(change.new_dn)
        moves = dnlib.normalize_dn(new_parent) != dnlib.normalize_dn(dnlib.parent_dn(change.dn))
        return connection.modify_dn(
            change.dn,
            dnlib.leaf_rdn(change.new_dn),
            delete_old_dn=True,
            new_superior=new_parent if moves else None,
        )
    if change.op is Op.MODIFY:
        controls = [(oid, False, None) for oid in _controls(change)]
        return connection.modify(change.dn, _modifications(change), controls=controls)
    if change.op is Op.DELETE:
        return connection.delete(change.dn)
    raise ValueError(f"unknown operation {change.op}")


def _modifications(change: Change) -> dict[str, list[tuple[Any, list[str]]]]:
    modifications: dict[str, list[tuple[Any, list[str]]]] = {}
    for name, values in change.replace.items():
        modifications.setdefault(name, []).append((MODIFY_REPLACE, list(values)))
    for name, values in change.add_values.items():
        modifications.setdefault(name, []).append((MODIFY_ADD, list(values)))
    for name, values in change.delete_values.items():
        modifications.setdefault(name, []).append((MODIFY_DELETE, list(values)))
    return modifications


def _tls(settings: LdapSettings) -> Tls:
    """Return the TLS set-up of the settings: validation on unless switched off."""
    return Tls(
        validate=ssl.CERT_REQUIRED if settings.tls_verify else ssl.CERT_NONE,
        ca_certs_file=str(settings.ca_file) if settings.ca_file else None,
        local_certificate_file=(
            str(settings.client_cert_file) if settings.client_cert_file else None
        ),
        local_private_key_file=str(settings.client_key_file) if settings.client_key_file else None,
    )


def bound_connection(
    settings: LdapSettings, user: str, password: str, **options: Any
) -> Connection:
    """Return a connection bound as `user` (anonymous when empty), over TLS when configured.

    `options` go to ldap3's Connection (e.g. another client strategy). A
    refused service account, a server certificate that the configured CAs do
    not vouch for or that names another host, and a port that speaks no TLS
    are errors saying which setting to fix, named where it was set.
    """
    action = f"connecting to {settings.url} as {user or 'anonymous'}"
    use_tls = settings.uses_tls or settings.ca_file is not None
    server = Server(
        settings.url,
        get_info=NONE,
        connect_timeout=settings.timeout,
        tls=_tls(settings) if use_tls else None,
    )
    connection = Connection(
        server,
        user=user or None,
        password=password or None,
        raise_exceptions=True,
        receive_timeout=math.ceil(settings.timeout),
        check_names=False,
        **options,
    )
    try:
        with translated(action):
            if settings.start_tls:
                connection.open()
                connection.start_tls()
            connection.bind()
    except (DirectoryError, ConfigurationError) as exc:
        with suppress(ldap_exc.LDAPException):
            connection.unbind()
        explained = _explained(exc, settings, server, user)
        if explained is exc:
            raise
        raise explained from exc
    return connection


def _explained(
    exc: DirectoryError | ConfigurationError, settings: LdapSettings, server: Server, user: str
) -> DirectoryError | ConfigurationError:
    """Return the error of a failed connection or bind, saying what to fix and where."""
    action = f"connecting to {settings.url} as {user or 'anonymous'}"
    text = str(exc)
    url = settings.name_of("url")
    if isinstance(exc, BindFailed) and user == settings.bind_dn:
        if not user:
            return BindFailed(
                f"{action}: the server refused the anonymous bind: set the service account in "
                f"{settings.name_of('bind_dn')} and its password in "
                f"{settings.name_of('bind_password')}"
            )
        return BindFailed(
            f"{action}: the server refused the bind as {user} (wrong password, or no such "
            f"account): fix the password in {settings.name_of('bind_password')}, or the DN in "
            f"{settings.name_of('bind_dn')}"
        )
    if _UNKNOWN_CA in text or _OTHER_HOST in text:
        reason = (
            "it is signed by a CA that is not trusted"
            if _UNKNOWN_CA in text
            else f"it does not name the host {server.host}"
        )
        return ConfigurationError(
            f"{action}: the server's TLS certificate is refused: {reason}. Set "
            f"{settings.name_of('ca_file')} to the PEM bundle of the CA that signed it, and "
            "connect to a host name that the certificate names"
        )
    if _NO_TLS in text:
        return ConfigurationError(
            f"{action}: the server did not speak TLS on {server.host}:{server.port}: ldaps:// "
            "needs the server's TLS port (usually 636); for a plain LDAP port use ldap:// with "
            f"start_tls. Fix {url}"
        )
    if _NO_ADDRESS in text:
        return DirectoryUnavailable(
            f"{action}: the host name {server.host} cannot be resolved (DNS): check the host "
            f"in {url} and the name service of this machine"
        )
    return exc


def password_matches(directory: Directory, dn: str, value: str) -> bool | None:
    """Return whether the entry's userPassword holds exactly `value`; None when it has none.

    This is an LDAP compare: the sync account needs compare, never read,
    access to passwords.
    """
    try:
        with translated(f"comparing the password of {dn}"):
            return bool(directory._connection.compare(dn, "userPassword", value))
    except EntryRejected as exc:
        if isinstance(exc.__cause__, ldap_exc.LDAPNoSuchAttributeResult):
            return None
        raise


def write_password_hash(directory: Directory, dn: str, value: str) -> None:
    """Set the entry's userPassword to exactly this hash."""
    with translated(f"writing the password of {dn}"):
        directory._connection.modify(dn, {"userPassword": [(MODIFY_REPLACE, [value])]})


def set_password(directory: Directory, dn: str, password: str) -> None:
    """Set a cleartext password with the Password Modify operation; the server hashes it."""
    with translated(f"setting the password of {dn}"):
        directory._connection.extend.standard.modify_password(dn, new_password=password)


def search(
    directory: Directory, base: str, search_filter: str, attributes: Iterable[str]
) -> list[tuple[str, dict[str, tuple[str, ...]]]]:
    """Return (dn, attributes) of the entries below `base` matching a filter (paged)."""
    if not directory.exists(base):
        return []
    found = []
    with translated(f"searching {base}"):
        results: Iterable[dict[str, Any]] = directory._connection.extend.standard.paged_search(
            base,
            search_filter,
            SUBTREE,
            attributes=list(attributes),
            paged_size=directory._page_size,
            generator=True,
        )
        for item in results:
            if item.get("type") == "searchResEntry":
                found.append(
                    (
                        item["dn"],
                        {
                            name.lower(): tuple(value.decode("utf-8") for value in values)
                            for name, values in item["raw_attributes"].items()
                        },
                    )
                )
        _require_complete(directory._connection, f"searching {base}")
    return found


def _require_complete(connection: Connection, action: str) -> None:
    """Raise ConfigurationError when the server cut the last search short (size limit).

    ldap3 does not raise for sizeLimitExceeded: a paged search past the
    server's limit would otherwise end quietly with only part of the entries.
    """
    if (connection.result or {}).get("result") == _SIZE_LIMIT_EXCEEDED:
        raise ConfigurationError(
            f"{action}: the server capped the search (size limit): lift the size limit of the "
            'account, e.g. limits dn.exact="<bind DN>" size=unlimited (config/slapd/acl.ldif)'
        )


def password_accepted(settings: LdapSettings, dn: str, password: str) -> bool:
    """Return whether the server accepts a simple bind as `dn` with `password`."""
    if not password:
        return False
    try:
        connection = bound_connection(settings, dn, password)
    except BindFailed:
        return False
    with suppress(ldap_exc.LDAPException):
        connection.unbind()
    return True


def change_own_password(settings: LdapSettings, dn: str, old: str, new: str) -> None:
    """Change a user's password as that user (Password Modify with the old password)."""
    connection = bound_connection(settings, dn, old)
    try:
        with translated(f"changing the password of {dn}"):
            connection.extend.standard.modify_password(dn, old, new)
    finally:
        with suppress(ldap_exc.LDAPException):
            connection.unbind()
