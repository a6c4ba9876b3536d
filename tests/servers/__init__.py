"""Real directory servers for the test suite: Samba AD, 389-DS and a replicated OpenLDAP.

Each is a class with start()/stop() that stops what it started by PID and
leaves no process, namespace or file behind; `servers.fixtures` wraps them in
session-scoped pytest fixtures with a fresh subtree per test
(docs/test-servers.md).
"""

from .dirsrv import DirectoryServer389
from .process import ServerError
from .replication import Provider, ReplicatedPair, tree, tree_differences
from .samba import SambaDC, SambaDomain, SambaTemplate
from .subtree import add_ou, delete_subtree, subtree_dns

__all__ = [
    "DirectoryServer389",
    "Provider",
    "ReplicatedPair",
    "SambaDC",
    "SambaDomain",
    "SambaTemplate",
    "ServerError",
    "add_ou",
    "delete_subtree",
    "subtree_dns",
    "tree",
    "tree_differences",
]
