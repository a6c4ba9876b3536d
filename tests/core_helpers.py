"""Build the pure core's inputs from a document, without any directory."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sync.core.decisions import Decision
from sync.core.desired import Desired, build_desired
from sync.core.grants import AccessRules, Grants
from sync.core.mapping import Mapping
from sync.core.problems import Quarantine, RecordError
from sync.core.rules import Verdicts
from sync.core.tree import Layout, Tree
from sync.ldap.flavour import load_mapping
from sync.run.prepare import judged
from sync.sources.document import load_data

BASE = "dc=example,dc=org"
MAPPING = load_mapping("openldap")


@dataclass
class Built:
    """What the core makes of a document: verdicts, desired entries, errors and decisions."""

    verdicts: Verdicts
    desired: Desired
    quarantine: Quarantine
    errors: list[RecordError]
    decisions: list[Decision]

    @property
    def logins(self) -> set[str]:
        """The logins of every user that passed the rules (enabled or not)."""
        return {account.login for account in self.verdicts.accounts().values()}


def built(
    document: dict[str, Any],
    layout: Layout | None = None,
    mapping: Mapping = MAPPING,
    rules: AccessRules | None = None,
) -> Built:
    """Judge a document and build its desired entries, as a run's source side does."""
    loaded = load_data(document)
    quarantine = loaded.quarantine
    verdicts = judged(loaded, rules or AccessRules())
    grants = verdicts.grants(quarantine.kinds)
    tree = Tree(layout or Layout(), BASE)
    desired = build_desired(verdicts, tree, mapping, quarantine, grants)
    errors = [*loaded.errors, *verdicts.errors, *desired.errors]
    return Built(
        verdicts, desired, quarantine, errors, verdicts.decisions(desired.entries, quarantine)
    )


def desired_of(
    document: dict[str, Any],
    layout: Layout | None = None,
    mapping: Mapping = MAPPING,
    rules: AccessRules | None = None,
) -> tuple[Desired, Quarantine]:
    """Return the desired entries of a document and the quarantine it produced."""
    result = built(document, layout, mapping, rules)
    return result.desired, result.quarantine


def grants_of(
    data: dict[str, Any],
    rules: AccessRules,
    suspended: Iterable[str] = (),
    *,
    broken_export: bool = False,
    unknown_kinds: Iterable[str] = (),
) -> Grants:
    """Return the memberships the verdicts of a parsed document grant."""
    loaded = load_data(copy.deepcopy(data))
    verdicts = Verdicts.judge(loaded.document, loaded.raw, rules, invalid=loaded.invalid)
    return verdicts.grants(suspended, broken_export=broken_export, unknown_kinds=unknown_kinds)


def uid_of(dn: str) -> str:
    """Return the RDN value of a user DN."""
    return dn.split(",", 1)[0].split("=", 1)[1]
