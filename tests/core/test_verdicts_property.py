"""The verdicts against an independent model, and their dependencies complete (pure).

1. For random structures, the memberships the verdicts grant are those of
   the model of the documented rules in `tests/run/test_grants_property_slapd.py`
   (`Rules.wanted`), which shares no code with the service.
2. For random structures and one to three records changed at once, every
   verdict whose dependencies (before or after the change) leave out every
   changed record is the same before and after, judged again from scratch.

CI runs the hypothesis profile's count (at least 300: a few milliseconds each);
PROPERTY_EXAMPLES=N runs N.
"""

from __future__ import annotations

import copy
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from run.test_grants_property_slapd import Rules, documents

from sync.core.entry import EntryKey, Kind
from sync.core.grants import AccessRules
from sync.core.rules import Verdicts
from sync.core.rules.judge import decision
from sync.sources.document import load_data

EXAMPLES = int(os.environ.get("PROPERTY_EXAMPLES", max(300, settings.default.max_examples)))
CHECKS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

CUSTOMERS = ["10", "11", "12", "C-1", "c-1"]
PERSONS = ["P-1", "P-2", "P-3", "p-3", "P-4"]
STAFF = ["U-1", "U-2", "u-2"]
ORDERS = ["O-1", "O-2", "O-3", "o-3"]
LOGINS = ["ana", "ANA", "bob", "cy"]
ROLES = ["Prepress", "prepress", "Press"]
TYPES = ["ct", "customer", "Customer", "nope"]


def judged(data: dict[str, Any], allow: bool) -> Verdicts:
    loaded = load_data(copy.deepcopy(data))
    return Verdicts.judge(
        loaded.document,
        loaded.raw,
        AccessRules(agency_without_customer_access=allow),
        invalid=loaded.invalid,
    )


@CHECKS
@given(document=documents(), allow=st.booleans())
def test_the_verdicts_grant_what_the_independent_model_grants(document, allow):
    wanted, _ = Rules(allow).wanted(document)
    granted = judged(document, allow).grants()
    found = {group: set(members) for group, members in granted.members.items()}
    assert found == {group: members for group, members in wanted.items() if members}


@st.composite
def shops(draw):
    """Random shops where rules meet: ids and logins in two cases, shared ids, the built-in
    type, agencies, bad fields."""
    customers = []
    for cid in draw(st.lists(st.sampled_from(CUSTOMERS), min_size=1, max_size=4)):
        customer = {
            "id": cid,
            "name": f"Customer {cid}",
            "remote_access": draw(st.sampled_from([True, True, False, "maybe"])),
            "agency": draw(st.booleans()),
            "contact_types": [{"id": "ct", "name": "Area"}],
            "persons": [],
        }
        if draw(st.integers(0, 7)) == 0:
            del customer["name"]
        customers.append(customer)
    for pid in draw(st.lists(st.sampled_from(PERSONS), max_size=5)):
        person: dict[str, Any] = {
            "id": pid,
            "last_name": f"Last {pid}",
            "contact_types": draw(st.lists(st.sampled_from(TYPES), min_size=1, max_size=2)),
        }
        if draw(st.integers(0, 7)) == 0:
            del person["last_name"]
        if draw(st.integers(0, 4)):
            person["account"] = {
                "login": draw(st.sampled_from(LOGINS)),
                "enabled": draw(st.sampled_from([True, True, False, "maybe"])),
            }
        draw(st.sampled_from(customers))["persons"].append(person)
    staff = []
    for uid in draw(st.lists(st.sampled_from(STAFF), max_size=3)):
        user: dict[str, Any] = {
            "id": uid,
            "login": draw(st.sampled_from(LOGINS)),
            "last_name": f"Staff {uid}",
            "groups": draw(st.lists(st.sampled_from(ROLES), unique=True, max_size=2)),
            "enabled": draw(st.booleans()),
        }
        if draw(st.integers(0, 7)) == 0:
            del user["last_name"]
        staff.append(user)
    orders = []
    for oid in draw(st.lists(st.sampled_from(ORDERS), max_size=4)):
        order: dict[str, Any] = {
            "id": oid,
            "customer": draw(st.sampled_from([*CUSTOMERS, "99"])),
            "portal_visible": draw(st.sampled_from([True, True, False, "maybe"])),
        }
        if draw(st.booleans()):
            order["agency"] = draw(st.sampled_from([*CUSTOMERS, "99"]))
        orders.append(order)
    return {"format_version": 1, "internal_users": staff, "customers": customers, "orders": orders}


CHANGES = {
    Kind.CUSTOMER: [
        ("remote_access", [True, False, "maybe"]),
        ("agency", [True, False]),
        ("name", ["Renamed", None]),
        ("contact_types", [[], [{"id": "ct", "name": "Other"}], [{"id": "CT"}]]),
    ],
    Kind.EXTERNAL: [
        ("account", [None, {"login": "ana"}, {"login": "bob", "enabled": False}]),
        ("contact_types", [["ct"], ["customer"], ["nope"]]),
        ("last_name", ["Other", None]),
        ("email", ["x@example.org"]),
    ],
    Kind.INTERNAL: [
        ("login", LOGINS),
        ("enabled", [True, False, "maybe"]),
        ("groups", [[], ["Press"], ["PRESS", "Prepress"]]),
        ("last_name", ["Other", None]),
    ],
    Kind.ORDER: [
        ("customer", [*CUSTOMERS, "99"]),
        ("agency", [*CUSTOMERS, None]),
        ("portal_visible", [True, False]),
        ("name", ["Renamed", ["not", "a", "text"]]),
    ],
}


def records(data):
    """Yield (key, record) for every record of a document (persons included)."""
    for user in data["internal_users"]:
        yield EntryKey.of(Kind.INTERNAL, user["id"]), user
    for customer in data["customers"]:
        yield EntryKey.of(Kind.CUSTOMER, customer["id"]), customer
        for person in customer["persons"]:
            yield EntryKey.of(Kind.EXTERNAL, person["id"]), person
    for order in data["orders"]:
        yield EntryKey.of(Kind.ORDER, order["id"]), order


def seen(verdicts: Verdicts, key: str) -> tuple[Any, ...] | None:
    """Return everything a verdict says, in plain values (None: no verdict)."""
    verdict = verdicts.get(key)
    if verdict is None:
        return None
    return (
        verdict.record,
        verdict.owner,
        verdict.wants,
        verdicts.values(verdict) if verdict.wants else None,
        verdict.members,
        verdict.unknown,
        verdict.note,
        verdict.held,
        tuple(str(problem) for problem in verdict.problems),
        str(decision(verdict, verdict.left_out)) if verdict.left_out else None,
    )


@CHECKS
@given(data=shops(), change=st.data(), allow=st.booleans(), count=st.integers(1, 3))
def test_changes_outside_a_verdicts_dependencies_leave_it_as_it_is(data, change, allow, count):
    """One to three records change at once: a verdict none of them is a dependency of, in
    the shop before or after, stays as it was."""
    before = judged(data, allow)
    after_data = copy.deepcopy(data)
    changed = set()
    for _ in range(count):
        key, record = change.draw(st.sampled_from(list(records(after_data))))
        name, values = change.draw(st.sampled_from(CHANGES[EntryKey.kind(key)]))
        value = change.draw(st.sampled_from(values))
        if value is None:
            record.pop(name, None)
        else:
            record[name] = copy.deepcopy(value)
        changed.add(key)
    after = judged(after_data, allow)
    for other in set(before.by_key) | set(after.by_key):
        depends = (before.depends(other) if other in before.by_key else set()) | (
            after.depends(other) if other in after.by_key else set()
        )
        if changed & depends:
            continue
        assert seen(before, other) == seen(after, other), (other, changed)


def test_dependencies_name_a_persons_customer_and_its_rivals_for_the_login():
    data = {
        "format_version": 1,
        "internal_users": [{"id": "U-1", "login": "ana", "last_name": "A"}],
        "customers": [
            {
                "id": "10",
                "name": "A",
                "remote_access": True,
                "persons": [
                    {"id": "P-1", "last_name": "L", "contact_types": ["customer"], "account": {}},
                ],
            },
            {"id": "11", "name": "B", "persons": [{"id": "P-2", "last_name": "M"}]},
        ],
        "orders": [{"id": "O-1", "customer": "10", "agency": "11", "portal_visible": True}],
    }
    data["customers"][0]["persons"][0]["account"] = {"login": "ANA"}
    data["customers"][1]["persons"][0]["contact_types"] = ["ct"]
    verdicts = judged(data, False)
    assert verdicts.depends("external:P-1") == {"external:P-1", "customer:10", "internal:U-1"}
    assert verdicts.depends("order:O-1") == {
        "order:O-1",
        "customer:10",
        "external:P-1",
        "customer:11",
        "external:P-2",
    }
    assert verdicts.depends("role:prepress") == {"role:prepress"}
