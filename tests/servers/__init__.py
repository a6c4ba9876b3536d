"""Real servers for the test suite: Samba AD, 389-DS, a replicated OpenLDAP, PostgreSQL,
an HTTP(S) server and a headless Chromium.

Each is a class with start()/stop() that stops what it started by PID and
leaves no process, namespace or file behind; `servers.fixtures` wraps them in
session-scoped pytest fixtures with fresh state per test (a subtree, a
database, a reset server, an empty cookie jar; docs/test-servers.md).
"""

from .browser import Browser
from .dirsrv import DirectoryServer389
from .httpserver import (
    Delay,
    Document,
    Drop,
    NotJSON,
    RecordedRequest,
    Reply,
    SlowBody,
    SourceServer,
    Status,
    Truncate,
)
from .postgres import PostgresCluster, PostgresDatabase
from .process import ServerError
from .replication import Provider, ReplicatedPair, tree, tree_differences
from .samba import SambaDC, SambaDomain, SambaTemplate
from .subtree import add_ou, delete_subtree, subtree_dns

__all__ = [
    "Browser",
    "Delay",
    "DirectoryServer389",
    "Document",
    "Drop",
    "NotJSON",
    "PostgresCluster",
    "PostgresDatabase",
    "Provider",
    "RecordedRequest",
    "ReplicatedPair",
    "Reply",
    "SambaDC",
    "SambaDomain",
    "SambaTemplate",
    "ServerError",
    "SlowBody",
    "SourceServer",
    "Status",
    "Truncate",
    "add_ou",
    "delete_subtree",
    "subtree_dns",
    "tree",
    "tree_differences",
]
