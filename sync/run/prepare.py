"""The source side of a run: the desired entries and what the source got wrong.

Read and checked before anything touches the directory; no directory access.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from sync.core.decisions import Decision
from sync.core.desired import Desired, build_desired
from sync.core.entry import Kind
from sync.core.grants import AccessRules
from sync.core.mapping import Mapping
from sync.core.parts import EMPTY_IN_DOCUMENT, broken_part, empty_parts, protect, vanished
from sync.core.problems import Quarantine, RecordError
from sync.core.rules import Verdicts
from sync.ldap.flavour import load_mapping
from sync.progress import Progress
from sync.run.passwords import SourceAccount, require_supported, source_accounts
from sync.settings import Settings
from sync.sources.document import LoadedDocument
from sync.sources.reader import Source, source_of


@dataclass
class Prepared:
    """The source side of a run: the desired entries and what the source got wrong."""

    mapping: Mapping
    desired: Desired
    quarantine: Quarantine
    errors: list[RecordError]
    accounts: dict[str, SourceAccount] = field(default_factory=dict)
    decisions: list[Decision] = field(default_factory=list)
    """The valid records the rules left without an entry, and why."""
    empty_parts: list[str] = field(default_factory=list)
    """The parts of the document that are empty (`sync.core.parts`): broken if they fed entries."""
    verdicts: Verdicts | None = None
    """What the rules say of every record (`sync.core.rules`), when asked to keep them."""

    def protect_vanished(self, held: Iterable[str], floor: int) -> list[RecordError]:
        """Keep what the empty parts fed when the directory holds more than `floor` such entries.

        `held` are the keys of the entries the directory holds. Return the
        record errors that report the parts. The kinds they feed are kept
        and their memberships turn unknown, before the plan is made.
        """
        names = vanished(self.empty_parts, held, floor, self.quarantine.kinds)
        if not names:
            return []
        protect(self.quarantine, names)
        self.desired.grants = replace(
            self.desired.grants,
            suspended=frozenset(self.quarantine.kinds),
            unknown_kinds=frozenset(self.quarantine.unknown_kinds),
        )
        return [
            broken_part(
                name,
                f"source {name}",
                f"{EMPTY_IN_DOCUMENT[name]} while the directory holds entries it fed",
            )
            for name in names
        ]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a large structure is built.

    Building the desired state allocates millions of objects and frees few:
    every full collection walks them all again, which cost more than half
    of the CPU time of reading and building at size M (docs/performance.md).
    The structures hold no reference cycles of their own; reference
    counting frees them, and collection resumes afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def prepare(
    settings: Settings,
    progress: Progress | None = None,
    *,
    source: Source | None = None,
    mapping: Mapping | None = None,
    keep_verdicts: bool = False,
) -> Prepared:
    """Return the desired directory for the configured source; no directory access.

    A run passes the source reader and the mapping it holds already, so that
    each is made once per run. The verdicts hold every record's model: a run
    lets them go once the entries are built (at size M they are 360 MB of
    the 583 MB the source side holds); the console, which pages through
    records, asks to `keep_verdicts`.
    """
    with gc_paused():
        return _prepare(settings, progress or Progress(), source, mapping, keep_verdicts)


def judged(loaded: LoadedDocument, rules: AccessRules) -> Verdicts:
    """Return the verdicts of a loaded source; the records in error are held in its quarantine."""
    return Verdicts.judge(
        loaded.document, loaded.raw, rules, invalid=loaded.invalid, quarantine=loaded.quarantine
    )


def _prepare(
    settings: Settings,
    progress: Progress,
    source: Source | None,
    mapping: Mapping | None,
    keep_verdicts: bool,
) -> Prepared:
    progress.stage("reading the source")
    loaded = (source or source_of(settings.source)).load()
    progress.stage("building")
    mapping = mapping or load_mapping(settings.mapping.path, settings.mapping.values)
    require_supported(settings.passwords, settings.ldap, mapping)
    verdicts = judged(loaded, settings.rules)
    document = loaded.document
    broken = not document.customers and not document.internal_users
    if broken:
        loaded.quarantine.kinds.update(kind.value for kind in Kind)
    grants = verdicts.grants(
        loaded.quarantine.kinds,
        broken_export=broken,
        unknown_kinds=loaded.quarantine.unknown_kinds,
    )
    empty = empty_parts(loaded.raw)
    loaded.raw = None  # the parsed text is large: hold it no longer than the verdicts need it
    desired = build_desired(verdicts, settings.tree, mapping, loaded.quarantine, grants)
    errors = [*loaded.errors, *verdicts.errors, *desired.errors]
    if broken:
        errors.append(
            RecordError(
                "source document",
                "it holds no customer and no internal user; treated as a broken export, "
                "nothing is deleted or disabled",
            )
        )
    accounts = source_accounts(verdicts)
    left_out = verdicts.decisions(desired.entries, loaded.quarantine)
    return Prepared(
        mapping,
        desired,
        loaded.quarantine,
        errors,
        accounts,
        left_out,
        empty,
        verdicts if keep_verdicts else None,
    )
