"""The console's lists: pages of a fixed size, and what a search finds in the snapshot's index.

Every list is a slice of rows the index holds already (all orders, a
customer's orders, the records a search found); nothing here walks the
whole shop for one request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from sync.core.model import Customer, Order
from sync.service.console.snapshot import Hit, Snapshot

PAGE = 50
"""Rows on one page of a list."""
SHORT = 20
"""Rows of a list inside a record's page; the rest is one link away."""


@dataclass(frozen=True)
class Listing:
    """One page of a list: its rows, where it is, and the query that made it."""

    rows: list[Any]
    page: int
    pages: int
    total: int
    query: dict[str, str]
    path: str
    cut: bool = False
    """The search found more than it looked at: a narrower one finds the rest."""

    @property
    def first(self) -> int:
        """Return the number of the first row shown (1-based)."""
        return (self.page - 1) * PAGE + 1

    @property
    def last(self) -> int:
        """Return the number of the last row shown."""
        return self.first + len(self.rows) - 1

    def link(self, page: int) -> str:
        """Return the address of another page of the same list."""
        return f"{self.path}?{urlencode({**self.query, 'page': str(page)})}"


def listing(
    rows: Sequence[Any], page: int, query: dict[str, str], path: str, cut: bool = False
) -> Listing:
    """Return page `page` (1-based) of `rows`, PAGE rows each; a page beyond the last is empty."""
    pages = max(1, -(-len(rows) // PAGE))
    page = max(1, page)
    start = (page - 1) * PAGE
    return Listing(list(rows[start : start + PAGE]), page, pages, len(rows), query, path, cut)


def find_orders(snapshot: Snapshot, query: dict[str, str]) -> tuple[Sequence[Order], bool]:
    """Return the orders a list shows: all, a customer's, an agency's, or those found by `q`.

    `q` finds orders by their id, and the orders of the customers it finds
    (by id, name, nickname, or a person's name or login), theirs and those
    they work on as an agency. The flag says whether the search was cut short.
    """
    index = snapshot.index
    if "customer" in query:
        return index.orders_of.get(query["customer"], []), False
    if "agency" in query:
        return index.agency_orders.get(query["agency"], []), False
    text = query.get("q", "")
    if not text:
        return snapshot.document.orders, False
    found, cut = index.search(text)
    direct = [index.orders[o] for o in found[Hit.ORDER]]
    seen = {o.id for o in direct}
    more = [o for o in index.customer_orders(found[Hit.CUSTOMER]) if o.id not in seen]
    return direct + more, cut


def find_customers(snapshot: Snapshot, text: str) -> tuple[Sequence[Customer], bool]:
    """Return the customers a list shows: all, or those found by id, name, person or login."""
    if not text.strip():
        return snapshot.document.customers, False
    index = snapshot.index
    found, cut = index.search(text)
    return [index.customers[c] for c in found[Hit.CUSTOMER]], cut


@dataclass(frozen=True)
class Match:
    """A user found by login or name."""

    login: str
    name: str
    where: str


def find_users(snapshot: Snapshot, text: str, limit: int = PAGE) -> list[Match]:
    """Return the source's users whose login or a word of their name starts with the words."""
    found: list[Match] = []
    index = snapshot.index
    for login in index.search(text)[0][Hit.USER][:limit]:
        for user in index.users.get(login.casefold(), []):
            if user.login != login:
                continue
            where = f"{user.customer.name} ({user.customer.id})" if user.customer else "internal"
            found.append(Match(user.login, user.name, where))
    return list(dict.fromkeys(found))[:limit]
