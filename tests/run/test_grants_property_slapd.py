"""Property test on a real slapd, with and without the refint and memberof overlays.

Random customer structures go through random change sequences: bad
records, logins reused and colliding, accounts disabled and restored,
orders naming unknown or unflagged agencies. After every run:

- the (user, group) pairs the directory grants are the pairs the rules
  grant, computed below from the source documents alone by a model of the
  documented rules that shares no code with the service;
- every active user entry sits at the login the rules say (a bad record's
  entry stays where it was, a collided record keeps its own DN);
- no member value names a missing or disabled entry;
- a second run, a full reconciliation, writes nothing.

CI runs a few examples per overlay setting (a quarter of the hypothesis
profile's count, at least 4); PROPERTY_EXAMPLES=N runs N per setting (see
docs/safety.md for the figures of the last long run).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync.core.dn import normalize_dn, parent_dn
from sync.run.sync import run_sync

from conftest import empty_tree, settings_factory
from directory_view import entries

pytestmark = pytest.mark.slapd

CUSTOMERS = ["10", "11", "12"]
PERSONS = ["P-1", "P-2", "P-3", "P-4", "P-5"]
STAFF = ["U-1", "U-2"]
ORDERS = ["O-1", "O-2", "O-3"]
LOGINS = ["ana", "bob", "cy", "dee"]
ROLES = ["Prepress", "Press"]
FLAWS = ["none", "none", "none", "none", "no last name", "unknown contact type"]
EXAMPLES = int(os.environ.get("PROPERTY_EXAMPLES", max(4, settings.default.max_examples // 4)))


@st.composite
def documents(draw):
    customers = []
    for cid in draw(st.lists(st.sampled_from(CUSTOMERS), unique=True, min_size=1)):
        customer = {
            "id": cid,
            "name": f"Customer {cid}",
            "remote_access": draw(st.booleans()),
            "agency": draw(st.booleans()),
            "contact_types": [{"id": "ct", "name": "Area"}],
            "persons": [],
        }
        if draw(st.integers(0, 9)) == 0:
            del customer["name"]
        customers.append(customer)
    for pid in draw(st.lists(st.sampled_from(PERSONS), unique=True)):
        flaw = draw(st.sampled_from(FLAWS))
        person = {
            "id": pid,
            "last_name": f"Last {pid}",
            "contact_types": ["nope" if flaw == "unknown contact type" else "ct"],
        }
        if flaw == "no last name":
            del person["last_name"]
        if draw(st.integers(0, 4)):
            person["account"] = {
                "login": draw(st.sampled_from(LOGINS)),
                "enabled": draw(st.integers(0, 3)) > 0,
            }
        draw(st.sampled_from(customers))["persons"].append(person)
    staff = []
    for uid in draw(st.lists(st.sampled_from(STAFF), unique=True)):
        user = {
            "id": uid,
            "login": draw(st.sampled_from(LOGINS)),
            "last_name": f"Staff {uid}",
            "groups": draw(st.lists(st.sampled_from(ROLES), unique=True, max_size=2)),
            "enabled": draw(st.integers(0, 3)) > 0,
        }
        if draw(st.integers(0, 5)) == 0:
            del user["last_name"]
        staff.append(user)
    orders = []
    for oid in draw(st.lists(st.sampled_from(ORDERS), unique=True)):
        known = [c["id"] for c in customers]
        entry = {
            "id": oid,
            "customer": draw(st.sampled_from([*known, *known, "99"])),
            "portal_visible": draw(st.integers(0, 3)) > 0,
        }
        if draw(st.booleans()):
            entry["agency"] = draw(st.sampled_from([*CUSTOMERS, "99"]))
        if draw(st.integers(0, 7)) == 0:
            entry["name"] = ["not", "a", "text"]
        orders.append(entry)
    return {"format_version": 1, "internal_users": staff, "customers": customers, "orders": orders}


class Rules:
    """What the documented rules say the directory holds, step after step.

    A document without a single valid customer or internal user is a broken
    export: it changes nothing.
    """

    def __init__(self, agency_without_customer_access: bool) -> None:
        self.allow = agency_without_customer_access
        self.logins: dict[str, str] = {}
        """Key -> login of every active user entry."""
        self.groups: set[str] = set()
        """Keys of the groups that exist."""
        self.pairs: set[tuple[str, str]] = set()
        """(user key, group key) pairs granted."""

    def step(self, document):
        named = [c for c in document["customers"] if "name" in c]
        if not named and all("last_name" not in u for u in document["internal_users"]):
            return self.pairs, self.groups
        users = {}
        for customer in document["customers"]:
            for person in customer["persons"]:
                account = person.get("account")
                bad = (
                    "name" not in customer
                    or "last_name" not in person
                    or person["contact_types"] != ["ct"]
                )
                active = bool(account and account["enabled"] and customer["remote_access"])
                users[f"external:{person['id']}"] = (bad, active, account and account["login"])
        for user in document["internal_users"]:
            bad = "last_name" not in user
            users[f"internal:{user['id']}"] = (bad, user["enabled"], user["login"])
        claims: dict[str, int] = {}
        for bad, active, login in users.values():
            if active and not bad:
                claims[login] = claims.get(login, 0) + 1
        valid = {
            key: login
            for key, (bad, active, login) in users.items()
            if active and not bad and claims[login] == 1
        }
        kept = {
            key: login
            for key, login in self.logins.items()
            if key in users
            and key not in valid
            and (users[key][0] or (users[key][1] and claims.get(users[key][2], 0) > 1))
        }
        while True:
            held = {login: key for key, login in kept.items()}
            collided = {k for k, login in valid.items() if held.get(login, k) != k}
            if not collided:
                break
            for key in collided:
                del valid[key]
                if key in self.logins:
                    kept[key] = self.logins[key]
        self.logins = {**kept, **valid}

        wanted, valid_groups = self.wanted(document)
        grants = {}
        groups = set()
        for group, members in wanted.items():
            present = members & set(self.logins)
            if (group in valid_groups and present) or (
                group not in valid_groups and group in self.groups
            ):
                groups.add(group)
                grants[group] = present
        self.groups = groups
        self.pairs = {(member, group) for group, members in grants.items() for member in members}
        return self.pairs, groups

    def wanted(self, document):
        """Return who the source grants each group, and the groups whose record is sound."""
        customers = {c["id"]: c for c in document["customers"]}

        def users_of(cid):
            customer = customers.get(cid)
            if customer is None or not customer["remote_access"]:
                return set()
            return {
                f"external:{p['id']}"
                for p in customer["persons"]
                if p.get("account") and p["account"]["enabled"]
            }

        wanted: dict[str, set[str]] = {}
        valid_groups = set()
        for cid, customer in customers.items():
            wanted[f"customer:{cid}"] = users_of(cid)
            if "name" in customer:
                valid_groups.add(f"customer:{cid}")
        for order in document["orders"]:
            customer = customers.get(order["customer"])
            agency = customers.get(order.get("agency"))
            members = users_of(order["customer"])
            agency_ok = agency is not None and agency["agency"] and customer is not None
            if agency_ok and (customer["remote_access"] or self.allow):
                members |= users_of(agency["id"])
            wanted[f"order:{order['id']}"] = members if order["portal_visible"] else set()
            sound = (
                customer is not None
                and "name" in customer
                and "name" not in order
                and (order.get("agency") is None or (agency is not None and agency["agency"]))
                and (agency is None or "name" in agency)
            )
            if sound:
                valid_groups.add(f"order:{order['id']}")
        for user in document["internal_users"]:
            if user["enabled"]:
                for role in user["groups"]:
                    wanted.setdefault(f"role:{role.casefold()}", set()).add(
                        f"internal:{user['id']}"
                    )
                    valid_groups.add(f"role:{role.casefold()}")
        return wanted, valid_groups


def directory_state(server):
    """Return the active logins by key, the granted pairs, the groups, and bad member values."""
    tree = {normalize_dn(dn): (dn, attrs) for dn, attrs in entries(server).items()}
    disabled = normalize_dn(f"ou=disabled,{server.suffix}")
    keys = {}
    for normalized, (dn, attrs) in tree.items():
        identity = [v for v in attrs.get("businesscategory", []) if v.startswith("portal-sync:")]
        mine = [v.removeprefix("portal-sync:") for v in identity if "disabled-since" not in v]
        if mine:
            active = normalize_dn(parent_dn(dn)) != disabled and len(identity) == 1
            keys[normalized] = (mine[0], active, attrs)
    logins = {
        key: attrs["uid"][0]
        for key, active, attrs in keys.values()
        if active and key.split(":")[0] in ("internal", "external")
    }
    pairs, groups, bad = set(), set(), []
    for normalized, (key, _, attrs) in keys.items():
        if "member" not in attrs:
            continue
        groups.add(key)
        for member in attrs["member"]:
            target = keys.get(normalize_dn(member))
            if normalize_dn(member) == normalized:
                continue
            if target is None or not target[1]:
                bad.append((key, member))
            else:
                pairs.add((target[0], key))
    return logins, pairs, groups, bad


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(documents(), min_size=1, max_size=4), allow=st.booleans())
def test_every_run_grants_exactly_what_the_rules_grant(any_slapd, tmp_path, steps, allow):
    empty_tree(any_slapd)
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    make = settings_factory(any_slapd, any_slapd.root_dn, any_slapd.root_pw, folder)
    rules = Rules(allow)
    options = {"rules": {"agency_without_customer_access": allow}}
    for document in steps:
        settings = make(document, **options)
        report = run_sync(settings, allow_deletions=10_000)
        assert report.ok, report.to_text()
        pairs, groups = rules.step(document)
        logins, granted, present, bad = directory_state(any_slapd)
        assert bad == [], report.to_text()
        assert logins == rules.logins, report.to_text()
        assert granted == pairs, report.to_text()
        assert present == groups, report.to_text()
        again = run_sync(settings, allow_deletions=10_000, full=True)
        assert again.ok and again.changes == [], again.to_text()
