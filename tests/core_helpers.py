"""Build the pure core's inputs from a document, without any directory."""

from __future__ import annotations

from typing import Any

from sync.core.desired import Desired, build_desired
from sync.core.grants import AccessRules, read_grants
from sync.core.mapping import Mapping
from sync.core.problems import Quarantine
from sync.core.rules import apply_rules
from sync.core.tree import Layout, Tree
from sync.ldap.flavour import load_mapping
from sync.sources.document import load_data

BASE = "dc=example,dc=org"
MAPPING = load_mapping("openldap")


def desired_of(
    document: dict[str, Any],
    layout: Layout | None = None,
    mapping: Mapping = MAPPING,
    rules: AccessRules | None = None,
) -> tuple[Desired, Quarantine]:
    """Return the desired entries of a document and the quarantine it produced."""
    loaded = load_data(document)
    structure, _ = apply_rules(loaded.document, loaded.quarantine)
    grants = read_grants(loaded.raw, rules or AccessRules(), loaded.quarantine.kinds)
    tree = Tree(layout or Layout(), BASE)
    desired = build_desired(structure, tree, mapping, loaded.quarantine, grants)
    return desired, loaded.quarantine


def uid_of(dn: str) -> str:
    """Return the RDN value of a user DN."""
    return dn.split(",", 1)[0].split("=", 1)[1]
