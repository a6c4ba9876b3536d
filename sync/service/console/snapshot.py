"""The source side the console shows: the document and what the rules made of it.

The console asks the same questions as `portal-sync check` and `access
--compare`, so it reads the source with the same reader and builds the
desired directory with the same `prepare`. A snapshot is kept while the
source's digest stays the same, so that paging through the console does not
read a large source for every page.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sync.core.decisions import Decision
from sync.core.model import Customer, Document, Order
from sync.run.prepare import Prepared, prepare
from sync.settings import Settings
from sync.sources.document import LoadedDocument
from sync.sources.reader import source_of


@dataclass(frozen=True)
class Snapshot:
    """The source document and the desired directory built from it."""

    document: Document
    prepared: Prepared

    def customer(self, customer_id: str) -> Customer | None:
        """Return the customer with this ID, or None."""
        return next((c for c in self.document.customers if c.id == customer_id), None)

    def order(self, order_id: str) -> Order | None:
        """Return the order with this ID, or None."""
        return next((o for o in self.document.orders if o.id == order_id), None)

    def decided(self, key: str) -> list[Decision]:
        """Return why the rules left the record behind this entry key without an entry."""
        return [d for d in self.prepared.decisions if d.key == key]

    def decisions_for(self, key: str) -> list[str]:
        """Return why the rules left the record behind this entry key without an entry, in words."""
        return [d.detail for d in self.decided(key)]

    def errors_for(self, key: str) -> list[str]:
        """Return the record errors of the record behind this entry key."""
        return [e.problem for e in self.prepared.errors if e.key == key]

    def owner(self, key: str) -> str | None:
        """Return the key of the customer a person belongs to, from its verdict."""
        verdicts = self.prepared.verdicts
        verdict = verdicts.get(key) if verdicts is not None else None
        return verdict.owner if verdict is not None else None


@dataclass(frozen=True)
class _Loaded:
    """A source reader that hands out a document read already (one read per snapshot)."""

    loaded: LoadedDocument

    def digest(self) -> str:
        return ""

    def load(self) -> LoadedDocument:
        return self.loaded


class Snapshots:
    """The latest snapshot of the source, read again when its digest changes."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._digest = ""
        self._snapshot: Snapshot | None = None

    def current(self) -> Snapshot:
        """Return a snapshot of the source as it is now; raise SourceError if unreadable."""
        source = source_of(self.settings.source)
        digest = source.digest()
        with self._lock:
            if digest and digest == self._digest and self._snapshot is not None:
                return self._snapshot
            loaded = source.load()
            document = loaded.document
            prepared = prepare(self.settings, source=_Loaded(loaded), keep_verdicts=True)
            self._snapshot = Snapshot(document, prepared)
            self._digest = digest
            return self._snapshot
