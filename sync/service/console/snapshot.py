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

    def decisions_for(self, record: str) -> list[str]:
        """Return why the rules left this record ("order X", ...) without an entry."""
        return [d.detail for d in self.prepared.decisions if d.record == record]

    def errors_for(self, record: str) -> list[str]:
        """Return the record errors whose record names this one."""
        return [
            e.problem
            for e in self.prepared.errors
            if e.record == record or e.record.startswith(record + " ")
        ]


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
            prepared = prepare(self.settings, source=_Loaded(loaded))
            self._snapshot = Snapshot(document, prepared)
            self._digest = digest
            return self._snapshot
