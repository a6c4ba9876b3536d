"""Property tests on a real slapd: any start converges, a second run is a no-op,
and the (user, order) pairs the directory grants are exactly the rules' pairs."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync.core.dn import normalize_dn, split_dn
from sync.run.sync import run_sync

from conftest import empty_tree
from directory_view import entries

CUSTOMER_IDS = ["10", "11", "12", "13"]
NAMES = ["Alpha", "Beta, Gamma & Co", "#1 Print+Co", "Éditions"]
ROLES = ["Prepress", "Press", "Administrators"]


@st.composite
def documents(draw):
    internal = [
        {
            "id": f"U-{i}",
            "login": f"staff{i}{draw(st.sampled_from('ab'))}",
            "last_name": f"S{i}",
            "groups": draw(st.lists(st.sampled_from(ROLES), unique=True, max_size=2)),
            "enabled": draw(st.booleans()),
        }
        for i in range(draw(st.integers(1, 3)))
    ]
    customer_ids = draw(st.lists(st.sampled_from(CUSTOMER_IDS), unique=True, max_size=4))
    customers = []
    for cid in customer_ids:
        persons = []
        for j in range(draw(st.integers(0, 3))):
            person = {
                "id": f"P-{cid}-{j}",
                "last_name": f"L{j}",
                "contact_types": ["customer"] if j == 0 else ["ct"],
            }
            if draw(st.booleans()):
                person["account"] = {
                    "login": f"u{cid}{j}{draw(st.sampled_from('xy'))}",
                    "enabled": draw(st.booleans()),
                }
            persons.append(person)
        customers.append(
            {
                "id": cid,
                "name": draw(st.sampled_from(NAMES)),
                "remote_access": draw(st.booleans()),
                "agency": draw(st.booleans()),
                "contact_types": [{"id": "ct", "name": "Area"}],
                "persons": persons,
            }
        )
    agencies = [c["id"] for c in customers if c["agency"]]
    orders = []
    for k in range(draw(st.integers(0, 4)) if customers else 0):
        order = {
            "id": f"O-{k}",
            "customer": draw(st.sampled_from(customer_ids)),
            "portal_visible": draw(st.booleans()),
        }
        if agencies and draw(st.booleans()):
            order["agency"] = draw(st.sampled_from(agencies))
        orders.append(order)
    return {
        "format_version": 1,
        "internal_users": internal,
        "customers": customers,
        "orders": orders,
    }


def granted_by_rules(document):
    logins = {}
    for customer in document["customers"]:
        logins[customer["id"]] = {
            p["account"]["login"].lower()
            for p in customer["persons"]
            if customer["remote_access"] and p.get("account") and p["account"]["enabled"]
        }
    remote = {customer["id"]: customer["remote_access"] for customer in document["customers"]}
    pairs = set()
    for order in document["orders"]:
        if order["portal_visible"] and remote[order["customer"]]:
            for login in logins[order["customer"]] | logins.get(order.get("agency"), set()):
                pairs.add((login, order["id"]))
    return pairs


def granted_by_directory(server):
    tree = entries(server)
    login_of = {normalize_dn(dn): a["uid"][0].lower() for dn, a in tree.items() if "uid" in a}
    pairs = set()
    for _dn, attrs in tree.items():
        key = next(
            (v for v in attrs.get("businesscategory", []) if v.startswith("portal-sync:order:")),
            None,
        )
        if key:
            pairs |= {(login_of[normalize_dn(m)], key.split(":", 2)[2]) for m in attrs["member"]}
    return pairs


def snapshot(server):
    """Return the active managed tree: DN -> attributes, members normalised, disabled OU aside."""
    active, disabled = {}, set()
    for dn, attrs in entries(server).items():
        identity = [
            v
            for v in attrs.get("businesscategory", [])
            if v.startswith("portal-sync:") and not v.startswith("portal-sync:disabled-since:")
        ]
        if not identity:
            continue
        if split_dn(dn)[1] == ("ou", "disabled"):
            disabled.add(identity[0])
            continue
        kept = {
            k: sorted(v)
            for k, v in attrs.items()
            if k
            not in (
                "entrycsn",
                "entryuuid",
                "createtimestamp",
                "modifytimestamp",
                "creatorsname",
                "modifiersname",
                "structuralobjectclass",
                "entrydn",
                "subschemasubentry",
                "hassubordinates",
            )
        }
        if "member" in kept:
            kept["member"] = sorted(normalize_dn(m) for m in kept["member"])
        active[normalize_dn(dn)] = kept
    return active, disabled


def active_users(document):
    keys = {f"portal-sync:internal:{u['id']}" for u in document["internal_users"] if u["enabled"]}
    for customer in document["customers"]:
        if customer["remote_access"]:
            keys |= {
                f"portal-sync:external:{p['id']}"
                for p in customer["persons"]
                if p.get("account") and p["account"]["enabled"]
            }
    return keys


def sync(settings_):
    report = run_sync(settings_, allow_deletions=10_000)
    assert report.failure is None and report.errors == [], report.to_text()
    return report


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a=documents(), b=documents())
def test_any_start_converges_to_the_same_directory(settings_for, slapd, a, b):
    empty_tree(slapd)
    sync(settings_for(a))
    sync(settings_for(b))
    after_a_then_b, disabled = snapshot(slapd)
    assert sync(settings_for(b)).changes == []
    assert granted_by_directory(slapd) == granted_by_rules(b)
    assert disabled == active_users(a) - active_users(b)

    empty_tree(slapd)
    sync(settings_for(b))
    fresh, _ = snapshot(slapd)
    assert after_a_then_b == fresh
