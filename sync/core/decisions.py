"""Why a valid record has no entry: the rules left it out on purpose (pure).

These are not errors. A customer without remote access, an order not
visible on the portal, a person without a portal account and a disabled
account get no entry by design; a newcomer reading the report should not
have to guess where they went. Records with a record error are not listed
here: the report names them among the errors.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import StrEnum

from sync.core.desired import Desired
from sync.core.entry import EntryKey, Kind
from sync.core.model import Customer, Person
from sync.core.problems import Quarantine
from sync.core.rules import Structure


class Why(StrEnum):
    """The rule that left a record out."""

    NO_REMOTE_ACCESS = "customer without remote access"
    NOT_VISIBLE = "order not visible on the portal"
    NO_ACCOUNT = "person without a portal account"
    ACCOUNT_DISABLED = "account disabled"
    NO_MEMBER = "group nobody would be in"


@dataclass(frozen=True)
class Decision:
    """One record the rules left without an entry, and why."""

    record: str
    why: Why
    detail: str

    def __str__(self) -> str:
        return f"{self.record}: {self.detail}"

    def to_dict(self) -> dict[str, str]:
        """Return the decision as plain data."""
        return {"record": self.record, "reason": self.why.value, "detail": self.detail}


def _customer(customer: Customer) -> str:
    return f"customer {customer.id} ({customer.name})"


def _person(person: Person, customer: Customer) -> str:
    name = " ".join(part for part in (person.first_name, person.last_name) if part)
    return f"person {person.id} ({name}) of customer {customer.id}"


def decisions(structure: Structure, desired: Desired, quarantine: Quarantine) -> list[Decision]:
    """Return every valid record the rules left without an entry, with the reason."""
    found: list[Decision] = []
    wanted = desired.entries
    for customer in structure.customers.values():
        key = EntryKey.of(Kind.CUSTOMER, customer.id)
        if not customer.remote_access:
            found.append(
                Decision(
                    _customer(customer),
                    Why.NO_REMOTE_ACCESS,
                    "remote access is off: no group, and none of its persons gets a user",
                )
            )
        elif key not in wanted and not quarantine.protects(key):
            found.append(
                Decision(
                    _customer(customer),
                    Why.NO_MEMBER,
                    "no group: none of its persons has an enabled portal account",
                )
            )
        for person in customer.persons:
            if quarantine.protects(EntryKey.of(Kind.EXTERNAL, person.id)):
                continue
            record = _person(person, customer)
            if person.account is None:
                found.append(Decision(record, Why.NO_ACCOUNT, "no user: no portal account"))
            elif not customer.remote_access:
                found.append(
                    Decision(
                        record,
                        Why.NO_REMOTE_ACCESS,
                        f"no user for {person.account.login}: customer {customer.id} has no "
                        "remote access",
                    )
                )
            elif not person.account.enabled:
                found.append(
                    Decision(
                        record,
                        Why.ACCOUNT_DISABLED,
                        f"account {person.account.login} disabled: in no group (an existing "
                        "user is moved to the disabled OU)",
                    )
                )
    for user in structure.internal_users:
        if not user.enabled:
            found.append(
                Decision(
                    f"internal user {user.id} ({user.login})",
                    Why.ACCOUNT_DISABLED,
                    "disabled: in no group (an existing user is moved to the disabled OU)",
                )
            )
    for order in structure.orders:
        key = EntryKey.of(Kind.ORDER, order.id)
        if not order.portal_visible:
            found.append(
                Decision(
                    f"order {order.id}",
                    Why.NOT_VISIBLE,
                    "no group: not visible on the portal, nobody outside the shop may open it",
                )
            )
        elif key not in wanted and not quarantine.protects(key):
            found.append(
                Decision(
                    f"order {order.id}",
                    Why.NO_MEMBER,
                    f"no group: no user of customer {order.customer}"
                    + (f" or of agency {order.agency}" if order.agency else "")
                    + " may log in to the portal",
                )
            )
    return found


def counted(found: list[Decision]) -> dict[str, int]:
    """Return the number of decisions per reason."""
    return dict(Counter(decision.why.value for decision in found))
