"""Our own exceptions: something stopped, and each class says what the run does next.

An exception stops what raised it: the run (a source that cannot be read,
a wrong setting, a directory that is down) or one change (a refusal, which
the apply step turns into a record error). What is wrong with single source
records is no exception: `sync.core.problems` holds those findings as
values, which a run reports while it carries on. ldap3's exceptions never
leave `sync.ldap`: they are translated there, once, into the directory
errors below. `sync.core.report` gives each error that stops a run its
outcome and exit code.
"""

from __future__ import annotations


class SyncError(Exception):
    """Base of every error the service reports."""


class ConfigurationError(SyncError):
    """Settings, mapping or directory layout are wrong: stop and say what to fix."""


class SourceError(SyncError):
    """The source cannot be read at all: the run stops before any change (exit code 4)."""


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

    diagnostic = ""
    """The server's own message, when it said more than the result code (AD names a value)."""


class EntryRejected(DirectoryError):
    """The server refused one entry's content, e.g. a schema violation (bad record: skip it)."""


class NoSuchValue(EntryRejected):
    """A modify would delete a value the entry does not hold (someone removed it first)."""


class LeaseConflict(DirectoryError):
    """The lease entry changed between reading and writing it: another run took it first."""


class TargetUnavailable(SyncError):
    """A target other than the directory (a SCIM provider) is down, refused the service's
    credentials or kept answering "busy": stop this run, nothing half-recorded (exit code 7)."""


class Interrupted(SyncError):
    """A stop signal (SIGTERM) ended the run where it was; the next run converges from there."""


class LockBusy(SyncError):
    """Another run holds the run lock: this run does not start (exit code 6)."""
