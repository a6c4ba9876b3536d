"""Every record of a shop judged, and what the readers of verdicts ask of them (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sync.core.decisions import Decision, Why
from sync.core.entry import EntryKey, Kind
from sync.core.grants import AccessRules, Grants
from sync.core.model import Customer, Document, Person
from sync.core.problems import Problem, Quarantine, RecordError
from sync.core.rules.dependencies import depends
from sync.core.rules.fields import flag, roles
from sync.core.rules.judge import Verdict, decision, judge
from sync.core.rules.shop import Record, Shop

_RULE_ORDER = {
    (Kind.INTERNAL, Problem.DUPLICATE): 0,
    (Kind.CUSTOMER, Problem.DUPLICATE): 1,
    (Kind.EXTERNAL, Problem.DUPLICATE): 2,
    (Kind.EXTERNAL, Problem.CONTACT_TYPE): 3,
    (Kind.INTERNAL, Problem.LOGIN): 4,
    (Kind.EXTERNAL, Problem.LOGIN): 5,
    (Kind.ORDER, Problem.REFERENCE): 6,
}
"""The order in which a report lists the rules' problems: rule by rule, as the records come."""


@dataclass(frozen=True, slots=True)
class Account:
    """What a run needs to set a user's password: its login, e-mail and source hash."""

    login: str
    email: str
    password_hash: str | None


@dataclass
class Verdicts:
    """The verdict of every identified record of a shop, by entry key."""

    shop: Shop
    by_key: dict[str, Verdict]
    """Users first (staff, then persons, in source order), then customers, orders, roles."""
    errors: list[RecordError]
    """The rules' record problems, in the report's order."""

    @classmethod
    def judge(
        cls,
        document: Document,
        raw: Any,
        rules: AccessRules,
        *,
        invalid: Iterable[int] = (),
        quarantine: Quarantine | None = None,
    ) -> Verdicts:
        """Judge every record of a source.

        `document` holds the records that passed their model, `raw` the parsed
        data they were read from, `invalid` the `id()` of the parsed records
        that failed it. The entries of records in error are held in `quarantine`.
        """
        shop = Shop(document, raw, invalid, rules)
        by_key: dict[str, Verdict] = {}
        problems: list[tuple[int, RecordError]] = []
        for records in (shop.staff, shop.persons, shop.customers, shop.orders):
            for record in records:
                verdict = judge(shop, record)
                if verdict is None:
                    continue
                for problem in verdict.problems:
                    rank = _RULE_ORDER[(record.kind, problem.why)]  # type: ignore[index]
                    problems.append((rank, problem))
                earlier = by_key.get(verdict.key)
                by_key[verdict.key] = earlier.merged(verdict) if earlier else verdict
        by_key.update(_roles(shop, by_key))
        shop.release()
        problems.sort(key=lambda item: item[0])  # stable: records stay in source order
        verdicts = cls(shop, by_key, [problem for _, problem in problems])
        if quarantine is not None:
            verdicts.hold(quarantine)
        return verdicts

    def hold(self, quarantine: Quarantine) -> None:
        """Hold the entries of the records in error, and of the persons of customers in error."""
        quarantine.keys.update(key for key, v in self.by_key.items() if v.problems)
        for customer in self.shop.customers:
            if customer.model is not None and not self.shop.customer_kept(customer):
                quarantine.broken_customers.add(customer.model.id)
                quarantine.keys.update(self.shop.keys(customer.persons))

    def __iter__(self) -> Iterator[Verdict]:
        return iter(self.by_key.values())

    def get(self, key: str) -> Verdict | None:
        """Return the verdict of the record behind `key`, or None."""
        return self.by_key.get(key)

    def depends(self, key: str) -> set[str]:
        """Return the keys of the records the verdict of `key` depends on (itself included)."""
        return depends(self.shop, key)

    def values(self, verdict: Verdict) -> dict[str, str]:
        """Return the values of the entry a verdict wants (the mapping's template fields)."""
        record = verdict.source
        model = record.model
        kind = record.kind
        if kind is Kind.INTERNAL:
            return {
                "id": model.id,
                "login": model.login,
                "first_name": model.first_name,
                "last_name": model.last_name,
                "email": model.email,
                "phone": model.phone,
                "groups": ", ".join(model.groups),
            }
        if kind is Kind.EXTERNAL:
            return _person_values(model, record.customer.model)  # type: ignore[union-attr]
        if kind is Kind.CUSTOMER:
            return {"id": model.id, "name": model.name, "nickname": model.nickname}
        if kind is Kind.ROLE:
            return {"name": record.raw["name"]}
        customer = self.shop.kept_customers[model.customer].model
        agency = self.shop.kept_customers[model.agency].model if model.agency else None
        return {
            "id": model.id,
            "name": model.name,
            "customer_id": customer.id,
            "customer_name": customer.name,
            "agency_id": agency.id if agency else "",
            "agency_name": agency.name if agency else "",
            "agency_note": f", agency {agency.id}" if agency else "",
        }

    def grants(
        self,
        suspended: Iterable[str] = (),
        *,
        broken_export: bool = False,
        unknown_kinds: Iterable[str] = (),
    ) -> Grants:
        """Return the memberships the verdicts grant, with what the whole run cannot tell.

        `suspended` names the kinds of which a record could not be identified;
        `broken_export` keeps every membership as it is (none is added either);
        `unknown_kinds` keeps every membership of entries of these kinds.
        """
        members: dict[str, tuple[str, ...]] = {}
        unknown_users: set[str] = set()
        unknown_groups: set[str] = set()
        notes: dict[str, str] = {}
        role_names: dict[str, str] = {}
        for key, verdict in self.by_key.items():
            kind = verdict.source.kind
            if not kind.is_group:
                if verdict.unknown:
                    unknown_users.add(key)
                continue
            if verdict.unknown:
                unknown_groups.add(key)
            if verdict.members:
                members[key] = verdict.members
            if verdict.note:
                notes[key] = verdict.note
            if kind is Kind.ROLE:
                role_names[key] = verdict.source.raw["name"]
        return Grants(
            members={} if broken_export else members,
            unknown_users=frozenset(unknown_users),
            unknown_groups=frozenset(unknown_groups),
            named=frozenset(self.by_key),
            suspended=frozenset(suspended),
            unknown_all=broken_export,
            unknown_kinds=frozenset(unknown_kinds),
            notes=notes,
            role_names=role_names,
        )

    def accounts(self) -> dict[str, Account]:
        """Return the password facts of every user that passed the rules, by entry key."""
        found = {}
        for key, verdict in self.by_key.items():
            model = verdict.source.model
            if verdict.held or model is None or not verdict.source.kind.is_user:
                continue
            if verdict.source.kind is Kind.INTERNAL:
                found[key] = Account(model.login, model.email, model.password_hash)
            elif model.account is not None:
                account = model.account
                found[key] = Account(account.login, model.email, account.password_hash)
        return found

    def decisions(self, wanted: Mapping[str, object], quarantine: Quarantine) -> list[Decision]:
        """Return why each valid record has no entry: the rules' own reasons, and the groups
        nobody is in (`wanted`: the desired entries)."""
        found: list[Decision] = []
        for records in (self.shop.customers, self.shop.staff, self.shop.orders):
            for record in records:
                found.extend(self._decided(record, wanted, quarantine))
                for person in record.persons:
                    found.extend(self._decided(person, wanted, quarantine))
        return found

    def _decided(
        self, record: Record, wanted: Mapping[str, object], quarantine: Quarantine
    ) -> Iterator[Decision]:
        verdict = self.by_key.get(record.key) if record.rid is not None else None  # type: ignore[arg-type]
        if verdict is None or verdict.held or verdict.source is not record:
            return
        if verdict.left_out is not None:
            yield decision(verdict, verdict.left_out)
        elif (
            verdict.wants
            and record.kind.is_group
            and verdict.key not in wanted
            and not quarantine.protects(verdict.key)
        ):
            yield decision(verdict, Why.NO_MEMBER)


def _person_values(person: Person, customer: Customer) -> dict[str, str]:
    type_names = {contact_type.id: contact_type.name for contact_type in customer.contact_types}
    return {
        "id": person.id,
        "login": person.account.login if person.account else "",
        "first_name": person.first_name,
        "last_name": person.last_name,
        "email": person.email,
        "phone": person.phone,
        "mobile": person.mobile,
        "fax": person.fax,
        "web": person.web,
        "customer_id": customer.id,
        "customer_name": customer.name,
        "customer_nickname": customer.nickname,
        "contact_types": ", ".join(
            type_names.get(t) or t for t in dict.fromkeys(person.contact_types)
        ),
    }


def _roles(shop: Shop, by_key: Mapping[str, Verdict]) -> dict[str, Verdict]:
    """Return the verdict of every role the staff name: its members are the enabled staff."""
    found: dict[str, Verdict] = {}
    for user in shop.staff:
        if user.rid is None:
            continue
        key = EntryKey.of(Kind.INTERNAL, user.rid)
        enabled = flag(user.raw, "enabled", True)
        unknown = by_key[key].unknown
        for name in roles(user.raw.get("groups", [])) or []:
            group = EntryKey.of(Kind.ROLE, name.casefold())
            verdict = found.get(group)
            if verdict is None:
                role = Record(Kind.ROLE, name.casefold(), {"name": name}, None, group)
                verdict = found[group] = Verdict(group, role, wants=True)
            if enabled and not unknown and key not in verdict.members:
                verdict.members = (*verdict.members, key)
    return found
