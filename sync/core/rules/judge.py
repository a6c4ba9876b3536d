"""One record judged into a verdict: every condition of the business rules, tested once (pure).

`judge(shop, record)` says what the rules make of one record: the entry it
wants, the memberships it grants as a group (or that none can be told),
whether its entry is held as it is, its record problems, and why the rules
left it without an entry. The conditions: a customer's remote access, an
order's visibility on the portal, an account's `enabled`, the agency flag
and `rules.agency_without_customer_access`, the built-in contact type,
unique ids, unique logins, an order's references.
"""

from __future__ import annotations

from dataclasses import dataclass

from sync.core.decisions import Decision, Why
from sync.core.entry import EntryKey, Kind
from sync.core.model import BUILTIN_CONTACT_TYPE, Customer, Order, Person
from sync.core.problems import Problem, RecordError
from sync.core.rules.fields import flag, roles
from sync.core.rules.shop import Record, Shop, raw_enabled


@dataclass(slots=True)
class Verdict:
    """What the rules say about the records behind one entry key."""

    key: str
    source: Record
    """The record judged (the first of them, when two share the key)."""
    wants: bool = False
    """The record wants an entry (`Verdicts.values` gives its values)."""
    members: tuple[str, ...] = ()
    """A group's members: the users it grants."""
    unknown: bool = False
    """A group: no membership of it can be told; a user: none of its memberships can be told.
    Unknown memberships are kept as they are, never added."""
    note: str = ""
    """Why a group grants less than its record asks (a broken reference, an agency rule)."""
    held: bool = False
    """The record is in error: its entry is kept exactly as it is."""
    problems: tuple[RecordError, ...] = ()
    left_out: Why | None = None
    """Why the rules left a valid record without an entry (`decision` says it in words)."""

    @property
    def record(self) -> str:
        """Return the record in words, as reports name it ("person P-1 of customer 10001")."""
        return label(self.source)

    @property
    def owner(self) -> str | None:
        """Return the key of the customer a person belongs to."""
        customer = self.source.customer
        return customer.key if customer is not None else None

    def hold(self, problems: tuple[RecordError, ...] = ()) -> Verdict:
        """Hold the record's entry as it is (the record is in error), with its problems."""
        self.held = True
        self.problems = problems
        return self

    def merged(self, other: Verdict) -> Verdict:
        """Return the verdict of two records sharing one key (both are then in error)."""
        if other.wants and not self.wants:
            self.source = other.source
        self.wants = self.wants or other.wants
        self.members = self.members or other.members
        self.unknown = self.unknown or other.unknown
        self.note = self.note or other.note
        self.held = self.held or other.held
        self.problems = (*self.problems, *other.problems)
        self.left_out = None if self.held else self.left_out or other.left_out
        return self


def label(record: Record) -> str:
    """Return a record in words ("person P-1 of customer 10001", "role Prepress")."""
    if record.kind is Kind.EXTERNAL:
        return f"person {record.rid} of customer {record.customer.rid}"  # type: ignore[union-attr]
    if record.kind is Kind.ROLE:
        return f"role {record.raw['name']}"
    return EntryKey.label(EntryKey.of(record.kind, record.rid or ""))


def judge(shop: Shop, record: Record) -> Verdict | None:
    """Return the verdict of one record, or None when it cannot be identified."""
    if record.rid is None:
        return None
    return _JUDGES[record.kind](shop, record)


def _problem(record: Record, text: str, why: Problem) -> tuple[RecordError, ...]:
    owner = record.customer.key if record.customer is not None else None
    return (RecordError(label(record), text, record.key, owner, why),)


def _customer(shop: Shop, record: Record) -> Verdict:
    verdict = Verdict(record.key or "", record)
    remote = None if shop.shared(record) else flag(record.raw, "remote_access", False)
    if remote is None:
        verdict.unknown = True
    elif remote:
        verdict.members = shop.raw_users(record)
    model: Customer | None = record.model
    if model is None:
        verdict.hold()
    elif (count := shop.valid(shop.valid_customers, record)) > 1:
        verdict.hold(_problem(record, f"{count} records share this id", Problem.DUPLICATE))
    elif not model.remote_access:
        verdict.left_out = Why.NO_REMOTE_ACCESS
    else:
        verdict.wants = True
    return verdict


def person_problem(shop: Shop, person: Record) -> tuple[Problem, str] | None:
    """Return the first rule a valid person of a kept customer breaks, before the login rule."""
    model: Person = person.model
    customer: Customer = person.customer.model  # type: ignore[union-attr]
    count = shop.valid(shop.valid_persons, person)
    if count > 1:
        return Problem.DUPLICATE, f"{count} persons share this id"
    known, holders = shop.contact_types(person.customer)  # type: ignore[arg-type]
    unknown = sorted(set(model.contact_types) - known)
    if unknown:
        return (
            Problem.CONTACT_TYPE,
            f"contact type(s) {', '.join(unknown)} do not exist in customer {customer.id}",
        )
    if len(holders) > 1 and BUILTIN_CONTACT_TYPE in model.contact_types:
        return (
            Problem.CONTACT_TYPE,
            f"the built-in contact type '{BUILTIN_CONTACT_TYPE}' holds {len(holders)} "
            f"persons ({', '.join(holders)}); it holds at most one",
        )
    return None


def _claimed(shop: Shop, record: Record) -> bool:
    return shop.claims_login(record, lambda person: person_problem(shop, person))


def _login_problem(shop: Shop, record: Record, login: str) -> tuple[RecordError, ...]:
    """Return the problem of a record claiming a login others claim too, or ()."""
    if not _claimed(shop, record):
        return ()
    rivals = [
        other
        for other in shop.logins[login.casefold()]
        if other is not record and _claimed(shop, other)
    ]
    if not rivals:
        return ()
    names = ", ".join(label(other) for other in rivals)
    return _problem(record, f"login '{login}' is also claimed by {names}", Problem.LOGIN)


def _person(shop: Shop, record: Record) -> Verdict:
    customer = record.customer
    assert customer is not None
    verdict = Verdict(record.key or "", record)
    verdict.unknown = shop.person_unknown(record) or (
        customer.rid is None and bool(raw_enabled(record))
    )
    model: Person | None = record.model
    if model is None or not shop.customer_kept(customer):
        return verdict.hold()
    problem = person_problem(shop, record)
    if problem is not None:
        return verdict.hold(_problem(record, problem[1], problem[0]))
    account = model.account
    if account is not None and (login := _login_problem(shop, record, account.login)):
        return verdict.hold(login)
    if account is None:
        verdict.left_out = Why.NO_ACCOUNT
    elif not customer.model.remote_access:
        verdict.left_out = Why.NO_REMOTE_ACCESS
    elif not account.enabled:
        verdict.left_out = Why.ACCOUNT_DISABLED
    else:
        verdict.wants = True
    return verdict


def _staff(shop: Shop, record: Record) -> Verdict:
    verdict = Verdict(record.key or "", record)
    enabled = flag(record.raw, "enabled", True)
    named = roles(record.raw.get("groups", []))
    verdict.unknown = enabled is None or named is None or shop.shared(record)
    model = record.model
    if model is None:
        return verdict.hold()
    count = shop.valid(shop.valid_staff, record)
    if count > 1:
        verdict.hold(_problem(record, f"{count} records share this id", Problem.DUPLICATE))
    elif login := _login_problem(shop, record, model.login):
        verdict.hold(login)
    elif not model.enabled:
        verdict.left_out = Why.ACCOUNT_DISABLED
    else:
        verdict.wants = True
    return verdict


def _order(shop: Shop, record: Record) -> Verdict:
    verdict = Verdict(record.key or "", record)
    if shop.shared(record):
        verdict.unknown = True
    else:
        _order_members(shop, record, verdict)
    model: Order | None = record.model
    if model is None:
        verdict.hold()
    elif problem := order_problem(shop, model, record.fold):
        verdict.hold(_problem(record, problem, Problem.REFERENCE))
    elif not model.portal_visible:
        verdict.left_out = Why.NOT_VISIBLE
    else:
        verdict.wants = True
    return verdict


def order_problem(shop: Shop, order: Order, fold: str) -> str | None:
    """Return the first reference rule an order breaks (`fold`: its id case-folded), or None."""
    count = shop.valid_orders.get(fold, 1)
    if count > 1:
        return f"{count} orders share this id"
    if order.customer in shop.broken_customers:
        return f"its customer {order.customer} is not valid (see its error)"
    if order.customer not in shop.kept_customers:
        return f"customer {order.customer} does not exist"
    if order.agency is None:
        return None
    if order.agency in shop.broken_customers:
        return f"its agency {order.agency} is not valid (see its error)"
    agency = shop.kept_customers.get(order.agency)
    if agency is None:
        return f"agency {order.agency} does not exist"
    if not agency.model.agency:
        return f"customer {order.agency} is not flagged as an agency"
    return None


def _order_members(shop: Shop, record: Record, verdict: Verdict) -> None:
    """Read who may open an order, tolerantly: its customer's users, and its agency's."""
    raw = record.raw
    visible = flag(raw, "portal_visible", False)
    cid, aid = record.refs
    if visible is None or cid is None or (raw.get("agency") is not None and aid is None):
        verdict.unknown = True
        return
    if not visible:
        return
    cid, customer, told = shop.named_customer(cid)
    if customer is None:
        verdict.note = f"its customer {cid} does not exist: nobody may open it"
        return
    remote = flag(customer.raw, "remote_access", False) if told else None
    if remote is None:
        verdict.unknown = True
        return
    granted = shop.raw_users(customer) if remote else ()
    _grant(shop, verdict, (cid, None), granted)
    if aid is None:
        return
    aid, agency, told = shop.named_customer(aid)
    if agency is None:
        verdict.note = f"its agency {aid} does not exist: no agency user may open it"
        return
    flagged = flag(agency.raw, "agency", False)
    agency_remote = flag(agency.raw, "remote_access", False) if told else None
    if flagged is None or agency_remote is None:
        verdict.unknown = True
    elif not flagged:
        verdict.note = (
            f"customer {aid} is not flagged as an agency: its users may not open the order"
        )
    elif remote or shop.rules.agency_without_customer_access:
        if agency_remote:
            _grant(shop, verdict, (cid, aid), (*granted, *shop.raw_users(agency)))
    else:
        verdict.note = (
            f"customer {cid} has no remote access, so neither has its agency {aid} "
            "(rules.agency_without_customer_access)"
        )


def _grant(
    shop: Shop, verdict: Verdict, parties: tuple[str, str | None], users: tuple[str, ...]
) -> None:
    """Grant an order these users; orders of one customer and agency share one tuple."""
    if users:
        members = shop.shared_members.get(parties)
        if members is None:
            members = shop.shared_members[parties] = tuple(dict.fromkeys(users))
        verdict.members = members


def decision(verdict: Verdict, why: Why) -> Decision:
    """Return why the rules left a valid record without an entry, in words.

    `why` is the verdict's `left_out`, or `Why.NO_MEMBER` for a group it
    wants that nobody would be in.
    """
    record, key = verdict.source, verdict.key
    model = record.model
    if record.kind is Kind.CUSTOMER:
        described = f"customer {model.id} ({model.name})"
        if why is Why.NO_REMOTE_ACCESS:
            text = "remote access is off: no group, and none of its persons gets a user"
        else:
            text = "no group: none of its persons has an enabled portal account"
        return Decision(described, why, text, key)
    if record.kind is Kind.ORDER:
        if why is Why.NOT_VISIBLE:
            text = "no group: not visible on the portal, nobody outside the shop may open it"
        else:
            agency = f" or of agency {model.agency}" if model.agency else ""
            text = (
                f"no group: no user of customer {model.customer}{agency} may log in to the portal"
            )
        return Decision(f"order {model.id}", why, text, key)
    if record.kind is Kind.INTERNAL:
        return Decision(
            f"internal user {model.id} ({model.login})",
            why,
            "disabled: in no group (an existing user is moved to the disabled OU)",
            key,
        )
    customer = record.customer.model  # type: ignore[union-attr]
    name = " ".join(part for part in (model.first_name, model.last_name) if part)
    described = f"person {model.id} ({name}) of customer {customer.id}"
    login = model.account.login if model.account else ""
    if why is Why.NO_ACCOUNT:
        text = "no user: no portal account"
    elif why is Why.NO_REMOTE_ACCESS:
        text = f"no user for {login}: customer {customer.id} has no remote access"
    else:
        text = (
            f"account {login} disabled: in no group (an existing user is moved to the disabled OU)"
        )
    return Decision(described, why, text, key)


_JUDGES = {
    Kind.CUSTOMER: _customer,
    Kind.EXTERNAL: _person,
    Kind.INTERNAL: _staff,
    Kind.ORDER: _order,
}
