"""User passwords: written from the source, generated once, or left to the portal.

A password set or changed in the directory is never overwritten. For
`source-hash` the service remembers, per entry key, the hash it last wrote
(`passwords.json` in the state directory, mode 0600) and compares it with
the directory (an LDAP compare, so the sync account needs no read access
to passwords): it writes a new source hash only over its own last value or
over no password at all. For `initial` it writes only into entries it has
just created, and into those a run added without confirming their
password: a run that stops between the add and the delivery (SIGTERM, a
directory that died) leaves the key `pending` in the state, written before
the adds; the next run sets and delivers a new password. Password values
never reach a log line, a report or an exception message.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import string
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from sync.core.change import Change, Op
from sync.core.entry import Entry, EntryKey, Kind
from sync.core.mapping import Mapping as FlavourMapping
from sync.core.problems import RecordError
from sync.core.rules import Verdicts
from sync.errors import ConfigurationError, EntryRejected, NoSuchEntry
from sync.files import write_private
from sync.ldap.directory import Directory
from sync.settings import LdapSettings, PasswordMode, PasswordSettings

log = logging.getLogger("portal_sync")

ALPHABET = string.ascii_letters + string.digits + "-_.!+"
STATE_FILE = "passwords.json"
STATE_LOSS = (
    "It is safe to delete the file: no password in the directory is changed or lost by that, "
    "and the next run records again every source hash the directory holds. What it costs: "
    "an account whose hash in the source changed since portal-sync last wrote it keeps the "
    "password the directory holds (portal-sync no longer knows that password as its own, so "
    "it takes it for one set in the directory) until that password is removed there; and an "
    "account an interrupted run added before its initial password was delivered is no longer "
    "known to owe one (the file's 'pending' list): give such an account a password by hand"
)
"""What deleting an unreadable password state does, for the message that stops the run."""


@dataclass(frozen=True)
class SourceAccount:
    """What the source says about one user's password and how to reach them."""

    key: str
    login: str
    email: str
    password_hash: str | None = field(repr=False)


class Step(StrEnum):
    """What to do with one account's password in this run."""

    WRITE_HASH = "source hash written"
    ADOPT = "source hash already in the directory"
    KEEP = "kept (set in the directory)"
    GENERATE = "initial password delivered"
    NOTHING = "nothing"


class DeliveryFailed(Exception):
    """An initial password could not be handed over; the message holds no password."""


def source_accounts(verdicts: Verdicts) -> dict[str, SourceAccount]:
    """Return the password-relevant facts of every user that passed the rules, by entry key."""
    return {
        key: SourceAccount(key, account.login, account.email, account.password_hash)
        for key, account in verdicts.accounts().items()
    }


def mode_of(settings: PasswordSettings, key: str) -> PasswordMode:
    """Return the password mode for the entry with this key."""
    kind = EntryKey.kind(key)
    if kind is Kind.INTERNAL:
        return settings.internal
    if kind is Kind.EXTERNAL:
        return settings.external
    return PasswordMode.NONE


def first_step(
    mode: PasswordMode, created: bool, source_hash: str | None, last: str | None
) -> Step | None:
    """Return the step decided without the directory, or None when the directory must tell.

    `created`: the entry was added in this run (or by a run that stopped
    before its initial password was delivered); `last`: the hash this
    service last wrote into it. An entry added in this run gets the source
    hash even when `last` is that hash: the entry it was written into is
    gone (a provider that never received it, a delete by hand).
    """
    if mode is PasswordMode.INITIAL:
        return Step.GENERATE if created else Step.NOTHING
    if mode is PasswordMode.NONE or source_hash is None:
        return Step.NOTHING
    if created:
        return Step.WRITE_HASH
    return Step.NOTHING if source_hash == last else None


def hash_step(holds_source: bool | None, holds_last: bool) -> Step:
    """Return the step for a source hash that this service has not written yet.

    `holds_source`: the directory holds the source hash (None: it holds no
    password at all); `holds_last`: it still holds the hash this service
    last wrote. Anything else was set in the directory and is kept.
    """
    if holds_source:
        return Step.ADOPT
    if holds_source is None or holds_last:
        return Step.WRITE_HASH
    return Step.KEEP


CLASSES = (string.ascii_uppercase, string.ascii_lowercase, string.digits, "-_.!+")
"""Every generated password holds one character of each: AD's complexity rule wants three."""


def generate_password(length: int) -> str:
    """Return a random password drawn with the `secrets` module, with every character class."""
    while True:
        password = "".join(secrets.choice(ALPHABET) for _ in range(length))
        if all(any(c in chars for c in password) for chars in CLASSES):
            return password


def require_supported(
    options: PasswordSettings, ldap: LdapSettings, mapping: FlavourMapping
) -> None:
    """Raise ConfigurationError for a password mode the directory flavour cannot carry out.

    Checked before a run touches anything (and by `portal-sync check`), not at
    the first user: Active Directory stores no foreign hash, and takes a
    password (unicodePwd) only over an encrypted connection.
    """
    for kind in ("internal", "external"):
        mode = getattr(options, kind)
        if mode is PasswordMode.SOURCE_HASH and not mapping.takes_source_hash:
            raise ConfigurationError(
                f"{options.name_of(kind)} is source-hash, but the {mapping.flavour} mapping "
                f"({mapping.origin}) says this directory does not store a password hash it did "
                "not make itself (Active Directory hashes every password itself): use initial "
                "or none"
            )
        if (
            mode is PasswordMode.INITIAL
            and mapping.password_write == "unicodePwd"
            and not ldap.uses_tls
        ):
            raise ConfigurationError(
                f"{options.name_of(kind)} is initial, and the {mapping.flavour} mapping sets "
                f"passwords with unicodePwd, which portal-sync never sends in clear (Active "
                f"Directory refuses it too): use an ldaps:// URL in {ldap.name_of('url')} or set "
                f"{ldap.name_of('start_tls')}"
            )


class WrittenHashes:
    """The hash this service last wrote per entry key, kept in the state directory."""

    def __init__(self, path: Path, written: dict[str, str], pending: set[str] | None = None):
        self.path = path
        self.written = written
        self.pending = pending or set()
        """Keys of accounts added with mode initial whose password was not yet delivered."""

    @classmethod
    def load(cls, state_dir: Path) -> WrittenHashes:
        """Return the state stored in `state_dir`, empty when there is none."""
        path = state_dir / STATE_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls(path, {})
        except (OSError, ValueError) as exc:
            raise ConfigurationError(
                f"{path}: cannot read the password state: {exc}. {STATE_LOSS}"
            ) from exc
        written = data.get("written", {}) if isinstance(data, dict) else None
        pending = data.get("pending", []) if isinstance(data, dict) else None
        if not isinstance(written, dict) or not isinstance(pending, list):
            raise ConfigurationError(
                f"{path}: cannot read the password state: it is not an object holding "
                f"'written' (keys to hashes) and 'pending' (a list of keys). {STATE_LOSS}"
            )
        return cls(path, {str(k): str(v) for k, v in written.items()}, {str(k) for k in pending})

    def forget(self, keys: Iterable[str]) -> None:
        """Drop the keys of entries that no longer exist."""
        for key in keys:
            self.written.pop(key, None)
            self.pending.discard(key)

    def save(self) -> None:
        """Write the state atomically, readable by the service user only."""
        data = {"version": 1, "written": self.written, "pending": sorted(self.pending)}
        try:
            write_private(self.path, json.dumps(data, indent=1, sort_keys=True))
        except OSError as exc:
            raise ConfigurationError(
                f"{self.path}: cannot write the password state: {exc.strerror}; "
                "fix PORTAL_SYNC_STATE_DIR (the passwords were written; the next run adopts them)"
            ) from exc


def deliver(settings: PasswordSettings, account: SourceAccount, dn: str, password: str) -> None:
    """Hand an initial password to the configured file and/or command."""
    line = f"{account.login}\t{password}\n"
    if settings.initial_file is not None:
        _append_private(settings.initial_file, line)
    if settings.initial_command:
        environment = {
            **os.environ,
            "PORTAL_SYNC_LOGIN": account.login,
            "PORTAL_SYNC_DN": dn,
            "PORTAL_SYNC_EMAIL": account.email,
        }
        try:
            finished = subprocess.run(
                settings.initial_command,
                input=line,
                text=True,
                env=environment,
                capture_output=True,
                timeout=120,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            name = settings.initial_command[0]
            raise DeliveryFailed(f"the initial password command {name} failed: {exc}") from None
        if finished.returncode != 0:
            raise DeliveryFailed(
                f"the initial password command {settings.initial_command[0]} exited with "
                f"{finished.returncode}"
            )


def _append_private(path: Path, line: str) -> None:
    """Append a line to a file that only the service user may read."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except OSError as exc:
        raise DeliveryFailed(f"cannot open {path}: {exc.strerror}") from None
    with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
        if os.fstat(handle.fileno()).st_mode & 0o077:
            raise DeliveryFailed(f"{path} is readable by others: chmod 600 it")
        handle.write(line)


def counted(steps: Mapping[str, Step]) -> dict[str, int]:
    """Return how many accounts took each step, leaving out NOTHING."""
    counts: dict[str, int] = {}
    for step in steps.values():
        if step is not Step.NOTHING:
            counts[step.value] = counts.get(step.value, 0) + 1
    return counts


def expect_initial(
    options: PasswordSettings, state_dir: Path, planned: Iterable[Change]
) -> set[str]:
    """Record, before the adds are sent, the accounts whose initial password is owed.

    Return their keys. A key stays pending until its password was set and
    delivered, so an account added by a run that stopped halfway gets one
    in the next run.
    """
    owed = {
        c.key
        for c in planned
        if c.op is Op.ADD and c.key and mode_of(options, c.key) is PasswordMode.INITIAL
    }
    if owed:
        state = WrittenHashes.load(state_dir)
        if not owed <= state.pending:
            state.pending |= owed
            state.save()
    return owed


def still_owed(state_dir: Path) -> set[str]:
    """Return the keys whose initial password is owed still (none when the state is unreadable)."""
    try:
        return WrittenHashes.load(state_dir).pending
    except ConfigurationError:
        return set()


def settle_passwords(
    directory: Directory,
    options: PasswordSettings,
    state_dir: Path,
    accounts: Mapping[str, SourceAccount],
    entries: Mapping[str, Entry],
    planned: Iterable[Change],
    applied: Iterable[Change],
    write: str = "password-modify",
) -> tuple[dict[str, Step], list[RecordError]]:
    """Write, generate or keep the password of every account after the entries were applied.

    Only entries this service owns are touched: those it read as its own,
    and those it added in this run (a refused add may mean that an entry of
    someone else holds the DN). Returns the step taken per entry key and
    the accounts that failed; no password value is in either. The hashes
    written are remembered in `state_dir`. `write` is how the mapping sets a
    cleartext password: "password-modify" or AD's "unicodePwd".
    """
    if options.internal is PasswordMode.NONE and options.external is PasswordMode.NONE:
        return {}, []
    changes = list(applied)
    created = {c.key for c in changes if c.op is Op.ADD and c.key}
    deleted = {c.key for c in changes if c.op is Op.DELETE and c.key}
    refused = {c.key for c in planned if c.op is Op.ADD and c.key} - created
    state = WrittenHashes.load(state_dir)
    state.forget(deleted)
    before = (dict(state.written), set(state.pending))
    steps: dict[str, Step] = {}
    errors: list[RecordError] = []
    try:
        for key, account in accounts.items():
            entry = entries.get(key)
            if entry is None or key in refused:
                continue
            owed = key in created
            if key in state.pending:
                if mode_of(options, key) is PasswordMode.INITIAL:
                    owed = True
                else:  # the mode changed since: nothing is owed in this one
                    state.pending.discard(key)
            try:
                steps[key] = _settle(directory, options, state, account, entry.dn, owed, write)
            except (DeliveryFailed, EntryRejected, NoSuchEntry) as exc:
                errors.append(RecordError(key, f"password not set: {exc}"))
                log.warning("password of %s not set: %s", key, exc)
    finally:  # a run stopped halfway keeps what it confirmed
        if (state.written, state.pending) != before:
            state.save()
    return steps, errors


def _settle(
    directory: Directory,
    options: PasswordSettings,
    state: WrittenHashes,
    account: SourceAccount,
    dn: str,
    created: bool,
    write: str,
) -> Step:
    """Decide and carry out the password step of one account; return it."""
    last = state.written.get(account.key)
    source = account.password_hash
    step = first_step(mode_of(options, account.key), created, source, last)
    if step is Step.GENERATE:
        password = generate_password(options.initial_length)
        if write == "unicodePwd":
            directory.set_unicode_password(dn, password)
        else:
            directory.set_password(dn, password)
        deliver(options, account, dn, password)
        state.pending.discard(account.key)
        return step
    if source is None or step is Step.NOTHING:
        return Step.NOTHING
    if step is None:
        holds_last = last is not None and bool(directory.password_matches(dn, last))
        step = hash_step(directory.password_matches(dn, source), holds_last)
    if step is Step.WRITE_HASH:
        directory.write_password_hash(dn, source)
    if step in (Step.WRITE_HASH, Step.ADOPT):
        state.written[account.key] = source
    return step
