"""The directory as a run uses it: reads, pipelined writes, the lease entry, passwords.

Every answer is read through `_entries`, which decodes attribute values to
text once; every ldap3 exception is translated (`sync.ldap.translate`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from ldap3 import (
    BASE,
    LEVEL,
    MODIFY_ADD,
    MODIFY_DELETE,
    MODIFY_REPLACE,
    SUBTREE,
    Connection,
)
from ldap3.core import exceptions as ldap_exc

from sync.core import dn as dnlib
from sync.core.change import Change, Op
from sync.core.entry import Attributes
from sync.errors import (
    AlreadyExists,
    ConfigurationError,
    EntryRejected,
    InsufficientAccess,
    LeaseConflict,
    NoSuchEntry,
)
from sync.ldap import ber, ldap3_internals
from sync.ldap.connection import bound_connection, served_by
from sync.ldap.translate import translated
from sync.settings import LdapSettings

_SIZE_LIMIT_EXCEEDED = 4

LEASE_CLASSES = (("applicationProcess",), ("container",))
"""The object classes a lease entry may take, tried in this order."""

_CLASS_REFUSED = (
    ldap_exc.LDAPUnwillingToPerformResult,
    ldap_exc.LDAPObjectClassViolationResult,
    ldap_exc.LDAPNoSuchAttributeResult,
)

Found = tuple[str, Attributes]
"""One entry a search found: its DN and its attributes as text, names in lower case."""

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
        self.server_url = ""
        """The server of `ldap.url` the reads go to (the first that answered)."""
        self.account = ""
        """The DN the directory is bound as, for messages about its rights."""

    @classmethod
    @contextmanager
    def open(cls, settings: LdapSettings) -> Iterator[Directory]:
        """Yield a directory bound with the service account; unbind at the end.

        The write connection is opened on the first write, to the server the
        reads go to (of a list, the first that answered); when the directory
        closes, its receiver thread has ended.
        """
        ldap3_internals.require()
        connection = bound_connection(
            settings,
            settings.bind_dn,
            settings.bind_password.get_secret_value(),
            return_empty_attributes=False,
        )
        server_url = served_by(settings, connection)

        options = (
            ldap3_internals.SERIAL_WRITER_OPTIONS
            if settings.uses_tls
            else ldap3_internals.WRITER_OPTIONS
        )

        def open_writer() -> Connection:
            return bound_connection(
                settings.model_copy(update={"url": server_url}),
                settings.bind_dn,
                settings.bind_password.get_secret_value(),
                **options,
            )

        directory = cls(connection, settings.page_size, open_writer, settings.timeout)
        directory.base_setting = settings.name_of("base_dn")
        directory.server_url = server_url
        directory.account = settings.bind_dn
        try:
            yield directory
        finally:
            with suppress(ldap_exc.LDAPException):
                connection.unbind()
            if directory._writer is not None:
                ldap3_internals.close(directory._writer, settings.timeout)

    def exists(self, dn: str) -> bool:
        """Return whether an entry exists at `dn` (and the account may see it).

        389-DS answers a base search of a missing entry with success and no
        entry when the account may not learn what is missing: only an entry
        found counts.
        """
        try:
            with translated(f"reading {dn}"):
                self._connection.search(dn, "(objectClass=*)", BASE, attributes=["1.1"])
        except NoSuchEntry:
            return False
        return any(item.get("type") == "searchResEntry" for item in self._connection.response or ())

    def require_base(self, base_dn: str, setting: str | None = None) -> None:
        """Raise ConfigurationError when the base DN does not exist; `setting` holds the DN."""
        if not self.exists(base_dn):
            raise ConfigurationError(
                f"the base DN {base_dn} does not exist in the directory: "
                f"create it or fix {setting or self.base_setting}"
            )

    def search(self, base: str, search_filter: str, attributes: Iterable[str]) -> list[Found]:
        """Return the entries below `base` matching a filter (paged); none without `base`."""
        if not self.exists(base):
            return []
        return list(self._paged(base, search_filter, attributes))

    def read_managed(
        self, bases: Iterable[str], identity_attribute: str, prefix: str, attributes: Iterable[str]
    ) -> Iterator[Found]:
        """Yield every entry below `bases` whose identity has `prefix`, each once."""
        search_filter = f"({identity_attribute}={dnlib.escape_filter_value(prefix)}*)"
        wanted = list(attributes)
        seen: set[str] = set()
        for base in bases:
            if self.exists(base):
                yield from _once(self._paged(base, search_filter, wanted), seen)

    def read_identities(
        self,
        bases: Iterable[str],
        identity_attribute: str,
        values: Iterable[str],
        attributes: Iterable[str],
    ) -> Iterator[Found]:
        """Yield every entry below `bases` holding one of these identities, each once."""
        return self.read_holding(bases, identity_attribute, values, attributes)

    def read_holding(
        self,
        bases: Iterable[str],
        attribute: str,
        values: Iterable[str],
        attributes: Iterable[str],
        chunk: int = 200,
    ) -> Iterator[Found]:
        """Yield every entry below `bases` whose `attribute` holds one of `values`, each once.

        Paged like every search that can return many entries: the groups naming
        one member may be more than Active Directory's 1,000 per unpaged search.
        """
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
                yield from _once(self._paged(base, f"(|{terms})", wanted), seen)

    def read_values(self, dn: str, attribute: str) -> tuple[str, ...]:
        """Return the values of one attribute of the entry at `dn` (none when it has none)."""
        with translated(f"reading {dn}"):
            self._connection.search(dn, "(objectClass=*)", BASE, attributes=[attribute])
        for _, attributes in _entries(self._connection.response or ()):
            return attributes.get(attribute.lower(), ())
        return ()

    def _paged(self, base: str, search_filter: str, attributes: Iterable[str]) -> Iterator[Found]:
        """Yield the entries below `base` matching a filter, one page after the other."""
        try:
            with translated(f"searching {base}"):
                results: Iterable[dict[str, Any]] = self._connection.extend.standard.paged_search(
                    base,
                    search_filter,
                    SUBTREE,
                    attributes=list(attributes),
                    paged_size=self._page_size,
                    generator=True,
                )
                yield from _entries(results)
        except InsufficientAccess as exc:
            raise InsufficientAccess(
                f"{exc}: {self.account or 'the service account'} needs read access (search "
                f"and read) to {base} and everything below it (the shipped rules: "
                "config/slapd/acl.ldif, config/389ds/aci.ldif)"
            ) from exc
        self._require_complete(f"searching {base}")

    def _require_complete(self, action: str) -> None:
        """Raise ConfigurationError when the server cut the last search short (size limit).

        ldap3 does not raise for sizeLimitExceeded: a paged search past the
        server's limit would otherwise end quietly with only part of the entries.
        """
        if (self._connection.result or {}).get("result") == _SIZE_LIMIT_EXCEEDED:
            raise ConfigurationError(
                f"{action}: the server capped the search (size limit): lift the size limit of "
                'the account, e.g. limits dn.exact="<bind DN>" size=unlimited '
                "(config/slapd/acl.ldif)"
            )

    def apply_pipelined(
        self, changes: Iterable[Change], window: int
    ) -> Iterator[tuple[Change, Refusal | None]]:
        """Write changes with up to `window` in flight on one connection; yield each answer.

        Over TLS the changes go one at a time (ldap3_internals.SERIAL_WRITER_OPTIONS).

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
        if not ldap3_internals.pipelines(writer):
            yield from _one_at_a_time(writer, changes)
            return
        in_flight: deque[tuple[Any, Change]] = deque()
        busy: dict[str, int] = {}
        for change in changes:
            targets = [change.dn.lower()]
            if change.new_dn:
                targets.append(change.new_dn.lower())
            while in_flight and (len(in_flight) >= window or any(t in busy for t in targets)):
                yield self._answer(writer, in_flight, busy)
            with translated(f"{change.op.value} {change.dn}"):
                message_id = ldap3_internals.post(writer, _encoded(change), _controls(change))
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
                ldap3_internals.answer(writer, message_id, self._timeout)
        except (AlreadyExists, EntryRejected, NoSuchEntry) as refusal:
            return change, refusal
        return change, None

    def read_lease(self, dn: str) -> tuple[str, ...] | None:
        """Return the values of the lease entry at `dn`, or None when there is no such entry."""
        try:
            with translated(f"reading the lease {dn}"):
                self._connection.search(dn, "(objectClass=*)", BASE, attributes=["description"])
        except NoSuchEntry:
            return None
        for _, attributes in _entries(self._connection.response or ()):
            return attributes.get("description", ())
        return None

    def create_lease(self, dn: str, value: str) -> None:
        """Create the lease entry at `dn` holding `value`, of the first stock class taken."""
        self._add_described(dn, value, f"creating the lease {dn}")

    def _add_described(self, dn: str, value: str, action: str) -> None:
        """Add a small entry of the service's own at `dn`, its `description` holding `value`.

        Active Directory lets nobody create an applicationProcess (it is
        system-only there) but takes a container, which OpenLDAP and 389-DS
        do not know.
        """
        attribute, name = dnlib.split_dn(dn)[0]
        for classes in LEASE_CLASSES:
            try:
                with translated(action):
                    self._connection.add(
                        dn, list(classes), {attribute: [name], "description": [value]}
                    )
                return
            except EntryRejected as exc:
                refused_class = isinstance(exc.__cause__, _CLASS_REFUSED)
                if classes == LEASE_CLASSES[-1] or not refused_class:
                    raise

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

    def read_claims(self, dn: str) -> dict[str, tuple[str, ...]]:
        """Return the lease claims right below the lease entry `dn`: their values by DN."""
        with translated(f"reading the lease claims below {dn}"):
            self._connection.search(
                dn, "(objectClass=applicationProcess)", LEVEL, attributes=["description"]
            )
        return {
            dn: attributes.get("description", ())
            for dn, attributes in _entries(self._connection.response or ())
        }

    def delete_lease(self, dn: str) -> None:
        """Delete the lease entry (a claim) at `dn`; one already gone is fine."""
        with suppress(NoSuchEntry), translated(f"deleting the lease {dn}"):
            self._connection.delete(dn)

    def read_token(self, dn: str) -> str:
        """Return the token the entry at `dn` holds, or "" when there is none (or no entry)."""
        values = self.read_lease(dn)
        return values[0] if values and len(values) == 1 else ""

    def write_token(self, dn: str, token: str) -> None:
        """Put `token` into the entry at `dn` with one modify; create the entry when missing.

        The entry is looked for first: 389-DS answers a modify of a missing
        entry with insufficientAccess, not noSuchObject.
        """
        action = f"writing the incremental state token {dn}"
        if self.read_lease(dn) is None:
            try:
                self._add_described(dn, token, action)
                return
            except AlreadyExists:
                pass
        with translated(action):
            self._connection.modify(dn, {"description": [(MODIFY_REPLACE, [token])]})

    def password_matches(self, dn: str, value: str) -> bool | None:
        """Return whether the entry's userPassword holds exactly `value`; None when it has none.

        This is an LDAP compare: the sync account needs compare, never read,
        access to passwords.
        """
        try:
            with translated(f"comparing the password of {dn}"):
                return bool(self._connection.compare(dn, "userPassword", value))
        except EntryRejected as exc:
            if isinstance(exc.__cause__, ldap_exc.LDAPNoSuchAttributeResult):
                return None
            raise

    def write_password_hash(self, dn: str, value: str) -> None:
        """Set the entry's userPassword to exactly this hash."""
        with translated(f"writing the password of {dn}"):
            self._connection.modify(dn, {"userPassword": [(MODIFY_REPLACE, [value])]})

    def encrypted(self) -> bool:
        """Return whether the connection runs over TLS (ldaps:// or StartTLS done)."""
        return bool(self._connection.server.ssl or self._connection.tls_started)

    def set_unicode_password(self, dn: str, password: str) -> None:
        """Set a password the Active Directory way: unicodePwd, over TLS only.

        The value is the password in double quotes, UTF-16-LE encoded. Over a
        connection without TLS nothing is sent: ConfigurationError says why.
        """
        if not self.encrypted():
            raise ConfigurationError(
                f"setting the password of {dn}: refused to send unicodePwd over a connection "
                "without TLS: use an ldaps:// URL or start_tls"
            )
        value = f'"{password}"'.encode("utf-16-le")
        with translated(f"setting the password of {dn}"):
            self._connection.modify(dn, {"unicodePwd": [(MODIFY_REPLACE, [value])]})

    def set_password(self, dn: str, password: str) -> None:
        """Set a cleartext password with the Password Modify operation; the server hashes it."""
        with translated(f"setting the password of {dn}"):
            self._connection.extend.standard.modify_password(dn, new_password=password)


def _one_at_a_time(
    writer: Connection, changes: Iterable[Change]
) -> Iterator[tuple[Change, Refusal | None]]:
    """Write changes one after the other, each answer read in this thread (TLS connections)."""
    for change in changes:
        try:
            with translated(f"{change.op.value} {change.dn}"):
                ldap3_internals.exchange(writer, _encoded(change), _controls(change))
        except (AlreadyExists, EntryRejected, NoSuchEntry) as refusal:
            yield change, refusal
            continue
        yield change, None


def _entries(items: Iterable[dict[str, Any]]) -> Iterator[Found]:
    """Yield the entries among search results, attribute values decoded to text once.

    A binary value (Active Directory's objectGUID) is given in hexadecimal.
    """
    for item in items:
        if item.get("type") == "searchResEntry":
            raw = item["raw_attributes"]
            try:
                attributes = {
                    name.lower(): tuple(value.decode("utf-8") for value in values)
                    for name, values in raw.items()
                }
            except UnicodeDecodeError:
                attributes = {
                    name.lower(): tuple(_text(value) for value in values)
                    for name, values in raw.items()
                }
            yield item["dn"], attributes


def _text(value: bytes) -> str:
    """Return a value as text: UTF-8, or hexadecimal for a binary value (objectGUID)."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.hex()


def _once(found: Iterable[Found], seen: set[str]) -> Iterator[Found]:
    """Yield the entries whose DN is not in `seen` yet (as the server spells it, case aside)."""
    for dn, attributes in found:
        normalized = dn.lower()
        if normalized not in seen:
            seen.add(normalized)
            yield dn, attributes


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
