"""The source side the console shows: the document, what the rules made of it, and an index.

The console asks the same questions as `portal-sync check` and `access
--compare`, so it reads the source with the same reader and builds the
desired directory with the same `prepare`. A snapshot is kept while the
source's digest stays the same, and its index is built once with it: a
page looks records up by id and searches by prefix in sorted terms, and
never walks the whole shop for one request.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass, field
from enum import Enum
from itertools import islice

from sync.core import dn as dnlib
from sync.core.decisions import Decision
from sync.core.entry import EntryKey, Kind
from sync.core.model import Customer, Document, InternalUser, Order
from sync.core.problems import RecordError
from sync.portal.access import desired_logins
from sync.run.prepare import Prepared, prepare
from sync.settings import Settings
from sync.sources.document import LoadedDocument
from sync.sources.reader import source_of

SEARCHED = 5_000
"""The most terms one word of a search looks at."""


class Hit(Enum):
    """What a search term names."""

    ORDER = "order"
    CUSTOMER = "customer"
    USER = "user"


@dataclass(frozen=True)
class User:
    """A login of the source: whose it is."""

    login: str
    name: str
    customer: Customer | None
    internal: InternalUser | None


@dataclass
class Index:
    """The source's records by id, and search terms in sorted order; built once per snapshot."""

    customers: dict[str, Customer] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    orders_of: dict[str, list[Order]] = field(default_factory=lambda: defaultdict(list))
    agency_orders: dict[str, list[Order]] = field(default_factory=lambda: defaultdict(list))
    internal: dict[str, InternalUser] = field(default_factory=dict)
    users: dict[str, list[User]] = field(default_factory=lambda: defaultdict(list))
    """Every login of the source, case-folded."""
    errors: dict[str, list[RecordError]] = field(default_factory=lambda: defaultdict(list))
    """Record errors by the record's key and by its owner's key."""
    decisions: dict[str, list[Decision]] = field(default_factory=lambda: defaultdict(list))
    """Decisions by the record's key."""
    owned: dict[str, list[Decision]] = field(default_factory=lambda: defaultdict(list))
    """Decisions by the key of the customer they concern (the record's or its owner's)."""
    groups: dict[str, str] = field(default_factory=dict)
    """The key of each customer and role group, by its normalized DN."""
    logins: dict[str, list[str]] = field(default_factory=dict)
    """The keys of the desired user entries by their login, case-folded (`desired_logins`)."""
    terms: list[tuple[str, Hit, str]] = field(default_factory=list)

    @classmethod
    def of(cls, document: Document, prepared: Prepared) -> Index:
        """Return the index of a document and of what the rules made of it."""
        index = cls()
        terms: list[tuple[str, Hit, str]] = []
        for customer in document.customers:
            index.customers.setdefault(customer.id, customer)
            found = (Hit.CUSTOMER, customer.id)
            terms += [(t, *found) for t in _terms(customer.id, customer.name, customer.nickname)]
            for person in customer.persons:
                name = f"{person.first_name} {person.last_name}".strip()
                login = person.account.login if person.account else ""
                terms += [(t, *found) for t in _terms(login, name)]
                if login:
                    terms += [(t, Hit.USER, login) for t in _terms(login, name)]
                    index.users[login.casefold()].append(User(login, name, customer, None))
        for order in document.orders:
            index.orders.setdefault(order.id, order)
            index.orders_of[order.customer].append(order)
            if order.agency:
                index.agency_orders[order.agency].append(order)
            terms += [(t, Hit.ORDER, order.id) for t in _terms(order.id)]
        for user in document.internal_users:
            index.internal.setdefault(user.id, user)
            name = f"{user.first_name} {user.last_name}".strip()
            terms += [(t, Hit.USER, user.login) for t in _terms(user.login, name)]
            index.users[user.login.casefold()].append(User(user.login, name, None, user))
        terms.sort(key=lambda term: term[0])
        index.terms = terms
        for error in prepared.errors:
            for key in dict.fromkeys(k for k in (error.key, error.owner) if k):
                index.errors[key].append(error)
        verdicts = prepared.verdicts
        for decision in prepared.decisions:
            if decision.key is None:
                continue
            index.decisions[decision.key].append(decision)
            verdict = verdicts.get(decision.key) if verdicts is not None else None
            owner = verdict.owner if verdict is not None else None
            for key in dict.fromkeys(k for k in (decision.key, owner) if k):
                index.owned[key].append(decision)
        for key, entry in prepared.desired.entries.items():
            if EntryKey.kind(key) in (Kind.CUSTOMER, Kind.ROLE):
                index.groups[dnlib.normalize_dn(entry.dn)] = key
        index.logins = desired_logins(prepared.desired)
        prepared.desired.grants.groups_of("")  # every user's groups indexed now, not on a page
        return index

    def search(self, text: str) -> tuple[dict[Hit, list[str]], bool]:
        """Return the orders, customers and logins whose terms start with every word of `text`,
        and whether the search was cut short.

        A term is an id, a login, or a word of a name; an order id also
        matches by each of its parts between "/", "_", "-" and ".". A word
        looks at SEARCHED terms at most: a search that finds more is cut short
        (the page says so), so that no search walks the whole shop.
        """
        words = text.casefold().split()
        if not words:
            return {hit: [] for hit in Hit}, False
        cut = False
        found: dict[Hit, dict[str, None]] | None = None
        for word in words:
            hits: dict[Hit, dict[str, None]] = {hit: {} for hit in Hit}
            start = bisect_left(self.terms, word, key=lambda term: term[0])
            end = bisect_left(self.terms, word + "\U0010ffff", lo=start, key=lambda term: term[0])
            cut = cut or end - start > SEARCHED
            for _, hit, record in islice(self.terms, start, min(end, start + SEARCHED)):
                hits[hit][record] = None
            if found is None:
                found = hits
            else:
                found = {hit: {r: None for r in found[hit] if r in hits[hit]} for hit in Hit}
        assert found is not None
        return {hit: list(records) for hit, records in found.items()}, cut

    def customer_orders(self, customers: list[str]) -> list[Order]:
        """Return the orders of these customers, and those they work on as an agency."""
        seen: dict[str, Order] = {}
        for customer in customers:
            for order in (*self.orders_of.get(customer, ()), *self.agency_orders.get(customer, ())):
                seen.setdefault(order.id, order)
        return list(seen.values())


_SEPARATORS = str.maketrans({c: " " for c in "/_-.,()&'\""})


def _terms(*values: str) -> set[str]:
    """Return the search terms of some values: each whole, and each of its words."""
    found: set[str] = set()
    for value in values:
        folded = value.casefold().strip()
        if folded:
            found.add(folded)
            found.update(folded.translate(_SEPARATORS).split())
            found.update(folded.split())
    return found


@dataclass(frozen=True)
class Snapshot:
    """The source document, the desired directory built from it, and its index."""

    document: Document
    prepared: Prepared
    index: Index = field(default_factory=Index)

    def customer(self, customer_id: str) -> Customer | None:
        """Return the customer with this ID, or None."""
        return self.index.customers.get(customer_id)

    def order(self, order_id: str) -> Order | None:
        """Return the order with this ID, or None."""
        return self.index.orders.get(order_id)

    def decided(self, key: str) -> list[Decision]:
        """Return why the rules left the record behind this entry key without an entry."""
        return list(self.index.decisions.get(key, ()))

    def decisions_for(self, key: str) -> list[str]:
        """Return why the rules left the record behind this entry key without an entry, in words."""
        return [d.detail for d in self.decided(key)]

    def errors_for(self, key: str) -> list[str]:
        """Return the record errors of the record behind this entry key."""
        return [e.problem for e in self.index.errors.get(key, ()) if e.key == key]

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
            self._snapshot = Snapshot(document, prepared, Index.of(document, prepared))
            self._digest = digest
            return self._snapshot
