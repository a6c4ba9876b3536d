"""The records of one source and the indexes between them: what a verdict looks up (pure).

Each record is kept twice over: its validated model, when it passed it, and
its parsed data as it came. The indexes hold every cross-record relation a
rule reads: ids compared case-insensitively, a customer's persons, the
orders naming a customer or agency, the records holding a login, the staff
naming a role. `sync.core.rules.judge` reads them to judge one record;
`depends` follows them to the records a verdict depends on.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sync.core.entry import EntryKey, Kind
from sync.core.grants import AccessRules
from sync.core.model import BUILTIN_CONTACT_TYPE, Document
from sync.core.rules.fields import dicts, flag, ident, reference, roles
from sync.core.rules.references import canonical


@dataclass(eq=False, slots=True)
class Record:
    """One source record: its parsed data, its model when it passed it, where it stands."""

    kind: Kind
    rid: str | None
    """The id as the model reads it; None when it cannot be read (the record is unidentified)."""
    raw: Mapping[str, Any]
    model: Any
    """The validated record (`sync.core.model`), or None when it failed its model."""
    key: str | None = None
    """The entry key of the record, or None when it cannot be identified."""
    fold: str = ""
    """The id case-folded: ids are compared without regard to case."""
    customer: Record | None = None
    """A person's customer."""
    persons: list[Record] | tuple[()] = ()
    """A customer's persons."""
    refs: tuple[str | None, str | None] = (None, None)
    """An order's customer and agency as it names them (read tolerantly)."""


class Shop:
    """The records of one source and the indexes between them."""

    def __init__(
        self, document: Document, raw: Any, invalid: Iterable[int], rules: AccessRules
    ) -> None:
        """Index the validated `document` against the parsed `raw` data it was read from.

        `invalid` holds the `id()` of every parsed record that failed its
        model (the loader cut it out of `document`).
        """
        self.rules = rules
        self.document = canonical(document)
        data = raw if isinstance(raw, dict) else {}
        cut = set(invalid)
        self.customers = _pair(
            Kind.CUSTOMER, list(dicts(data.get("customers"))), self.document.customers, cut
        )
        self.persons: list[Record] = []
        for customer in self.customers:
            raw_persons = list(dicts(customer.raw.get("persons")))
            if customer.model is None:
                cut.update(id(person) for person in raw_persons)
            valid = customer.model.persons if customer.model is not None else []
            customer.persons = _pair(Kind.EXTERNAL, raw_persons, valid, cut)
            for person in customer.persons:
                person.customer = customer
            self.persons.extend(customer.persons)
        self.orders = _pair(Kind.ORDER, list(dicts(data.get("orders"))), self.document.orders, cut)
        self._refs(document.orders)
        self.staff = _pair(
            Kind.INTERNAL,
            list(dicts(data.get("internal_users"))),
            self.document.internal_users,
            cut,
        )
        self._index()

    def _refs(self, originals: list[Any]) -> None:
        """Read the customer and agency each order names, as it spells them.

        A valid order's model holds them as read (`originals`, before the
        references are spelled as the ids they name); a bad one's are read
        tolerantly. Orders naming the same pair share one tuple.
        """
        parties: dict[tuple[str | None, str | None], tuple[str | None, str | None]] = {}
        spelled = iter(originals)
        for order in self.orders:
            if order.model is not None:
                model = next(spelled)
                refs: tuple[str | None, str | None] = (model.customer, model.agency)
            else:
                refs = (reference(order.raw, "customer"), reference(order.raw, "agency"))
            order.refs = parties.setdefault(refs, refs)

    def _index(self) -> None:
        self._records = {
            Kind.CUSTOMER: self.customers,
            Kind.EXTERNAL: self.persons,
            Kind.ORDER: self.orders,
            Kind.INTERNAL: self.staff,
        }
        self.shared_ids = {kind: _shared(records) for kind, records in self._records.items()}
        """Kind -> the case-folded ids several parsed records carry."""
        self._by_fold: dict[Kind, dict[str, list[Record]]] = {}
        self.valid_customers = self._valid(Kind.CUSTOMER)
        self.valid_staff = self._valid(Kind.INTERNAL)
        self.valid_orders = self._valid(Kind.ORDER)
        self.kept_customers = {c.rid: c for c in self.customers if self.customer_kept(c)}
        """Exact id -> the customer that passed its model and the unique-id rule."""
        self.broken_customers = {
            c.rid for c in self.customers if c.rid is not None and not self.customer_kept(c)
        }
        """Exact ids of customers that failed their model or share their id."""
        self.valid_persons = Counter(
            p.fold for c in self.kept_customers.values() for p in c.persons if p.model is not None
        )
        self.logins: defaultdict[str, list[Record]] = defaultdict(list)
        """Case-folded login -> the valid records holding it (who may claim it)."""
        for user in self.staff:
            if user.model is not None:
                self.logins[user.model.login.casefold()].append(user)
        for person in self.persons:
            if person.model is not None and person.model.account is not None:
                self.logins[person.model.account.login.casefold()].append(person)
        self.role_holders: defaultdict[str, list[Record]] = defaultdict(list)
        """Case-folded role name -> the staff naming it."""
        for user in self.staff:
            for name in roles(user.raw.get("groups", [])) or []:
                self.role_holders[name.casefold()].append(user)
        self._contact_types: dict[int, tuple[set[str], list[str]]] = {}
        self._users: dict[int, tuple[str, ...]] = {}
        self._claims: dict[int, bool] = {}
        self._named: dict[str, tuple[str, Record | None, bool]] = {}
        self.shared_members: dict[tuple[str, str | None], tuple[str, ...]] = {}
        """(customer, agency) -> the users of both: one tuple for every order that has them."""

    def _valid(self, kind: Kind, kept: Any = None) -> Counter[str]:
        """Return how many valid records share each case-folded id that several carry.

        A person counts only when its customer is kept (`kept`). Ids no other
        parsed record carries are left out: their count is at most one.
        """
        shared = self.shared_ids[kind]
        return Counter(
            r.fold
            for r in self._records[kind]
            if r.model is not None and r.fold in shared and (kept is None or kept(r.customer))
        )

    def valid(self, counter: Counter[str], record: Record) -> int:
        """Return how many valid records carry this record's id (itself included)."""
        return counter.get(record.fold, 1)

    def contact_types(self, customer: Record) -> tuple[set[str], list[str]]:
        """Return a valid customer's contact type ids (the built-in one included) and the
        persons holding the built-in one."""
        known = self._contact_types.get(id(customer))
        if known is None:
            model = customer.model
            ids = {contact_type.id for contact_type in model.contact_types}
            ids.add(BUILTIN_CONTACT_TYPE)
            holders = [p.id for p in model.persons if BUILTIN_CONTACT_TYPE in p.contact_types]
            known = self._contact_types[id(customer)] = (ids, holders)
        return known

    def release(self) -> None:
        """Let go of the parsed data once every record is judged: it is large."""
        for records in self._records.values():
            for record in records:
                record.raw = _RELEASED

    def by_fold(self, kind: Kind, fold: str) -> list[Record]:
        """Return the records of a kind whose case-folded id is `fold` (an index made once)."""
        index = self._by_fold.get(kind)
        if index is None:
            found: defaultdict[str, list[Record]] = defaultdict(list)
            for record in self._records[kind]:
                if record.rid is not None:
                    found[record.fold].append(record)
            index = self._by_fold[kind] = dict(found)
        return index.get(fold, [])

    def namesakes(self, record: Record) -> list[Record]:
        """Return the records of the same kind whose id equals this one's in any case."""
        return self.by_fold(record.kind, record.fold) or [record]

    def shared(self, record: Record) -> bool:
        """Return whether another parsed record of its kind carries this record's id."""
        return record.fold in self.shared_ids[record.kind]

    def customer_kept(self, customer: Record) -> bool:
        """Return whether a customer passed its model and the unique-id rule."""
        return customer.model is not None and self.valid(self.valid_customers, customer) == 1

    def claims_login(self, record: Record, problem: Any) -> bool:
        """Return whether a record claims its login: it would hold it in the directory.

        Enabled internal users claim theirs, and enabled accounts of customers
        with remote access. A disabled account, one of a customer without
        remote access, or a record already in error claims nothing: its login
        is free (if its entry still holds it, the plan finds that collision).
        `problem` returns a person's first rule problem before the login rule.
        """
        known = self._claims.get(id(record))
        if known is not None:
            return known
        claims = False
        if record.kind is Kind.INTERNAL:
            claims = record.model.enabled and self.valid(self.valid_staff, record) == 1
        elif record.customer is not None and self.customer_kept(record.customer):
            account = record.model.account
            claims = (
                account is not None
                and account.enabled
                and record.customer.model.remote_access
                and problem(record) is None
            )
        self._claims[id(record)] = claims
        return claims

    def raw_users(self, customer: Record) -> tuple[str, ...]:
        """Return the keys of a customer's persons whose account is enabled, read tolerantly."""
        known = self._users.get(id(customer))
        if known is not None:
            return known
        users: dict[str, None] = {}
        for person in customer.persons:
            told = person.rid is not None and not self.person_unknown(person)
            if told and raw_enabled(person):
                users[EntryKey.of(Kind.EXTERNAL, person.rid)] = None  # type: ignore[arg-type]
        found = tuple(users)
        self._users[id(customer)] = found
        return found

    def person_unknown(self, person: Record) -> bool:
        """Return whether none of a person's memberships can be told (shared id, unreadable)."""
        return raw_enabled(person) is None or self.shared(person)

    def named_customer(self, ref: str) -> tuple[str, Record | None, bool]:
        """Return the id a reference names (an exact spelling first), its record, and whether
        the shop can tell it (False when two records share the id)."""
        known = self._named.get(ref)
        if known is not None:
            return known
        same = self.by_fold(Kind.CUSTOMER, ref.casefold())
        found: tuple[str, Record | None, bool] = (ref, None, True)
        if same:
            exact = [c for c in same if c.rid == ref]
            record = exact[-1] if exact else same[0]
            found = (record.rid or ref, record, len(same) == 1)
        self._named[ref] = found
        return found

    def keys(self, records: Iterable[Record]) -> set[str]:
        """Return the entry keys of records that can be identified."""
        return {r.key for r in records if r.rid is not None}  # type: ignore[misc]


_RELEASED: Mapping[str, Any] = {}


def raw_enabled(person: Record) -> bool | None:
    """Return whether a person's account is enabled, read tolerantly (no account: False)."""
    account = person.raw.get("account")
    if account is None:
        return False
    return flag(account, "enabled", True) if isinstance(account, dict) else None


def _shared(records: list[Record]) -> set[str]:
    """Return the case-folded ids several of these records carry."""
    seen: set[str] = set()
    shared: set[str] = set()
    for record in records:
        if record.rid is not None:
            if record.fold in seen:
                shared.add(record.fold)
            seen.add(record.fold)
    return shared


def _pair(
    kind: Kind, raw: list[Mapping[str, Any]], models: list[Any], cut: set[int]
) -> list[Record]:
    """Return the records of `raw`, each with its model (the models keep the raw order)."""
    valid = iter(models)
    prefix = EntryKey.of(kind, "")
    records = []
    for item in raw:
        model = None if id(item) in cut else next(valid, None)
        if model is not None and model.id != item.get("id") and model.id != str(item.get("id")):
            raise ValueError(f"the {kind.value} records and their models are out of step")
        rid = model.id if model is not None else ident(item.get("id"))
        if rid is None:
            records.append(Record(kind, rid, item, model))
            continue
        fold = rid.casefold()
        fold = rid if fold == rid else fold  # one string where the case changes nothing
        records.append(Record(kind, rid, item, model, prefix + rid, fold))
    return records
