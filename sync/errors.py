"""Our own exceptions; each class says what the run does next.

ldap3's exceptions never leave `sync.ldap`: they are translated there,
once, into the directory errors below.
"""

from __future__ import annotations


class SyncError(Exception):
    """Base of every error the service reports."""


class ConfigurationError(SyncError):
    """Settings, mapping or directory layout are wrong: stop and say what to fix."""


class DirectoryError(SyncError):
    """Something the directory server answered or failed to answer."""


class DirectoryUnavailable(DirectoryError):
    """The server is down, busy or timed out: stop this run and retry later (transient)."""


class BindFailed(DirectoryError, ConfigurationError):
    """The server refused the service's credentials: fix the bind DN or password."""


class InsufficientAccess(DirectoryError, ConfigurationError):
    """The service account may not do this: fix the directory's ACLs."""


class NoSuchEntry(DirectoryError):
    """The entry, or one above it, does not exist."""


class AlreadyExists(DirectoryError):
    """Another entry already holds this DN (bad record: skip it)."""


class EntryRejected(DirectoryError):
    """The server refused one entry's content, e.g. a schema violation (bad record: skip it)."""


class NoSuchValue(EntryRejected):
    """A modify would delete a value the entry does not hold (someone removed it first)."""


class LeaseConflict(DirectoryError):
    """The lease entry changed between reading and writing it: another run took it first."""


class LockBusy(SyncError):
    """Another run holds the run lock: this run does not start (exit code 6)."""
