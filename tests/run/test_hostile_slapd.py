"""Hostile values in every field that reaches a DN, a filter or a value, on a real slapd.

Each value either syncs exactly (escaped per RFC 4514/4515, read back equal,
stable on a second run) or is refused with a record error naming its
record. No value may widen a search or address another record's entry.
"""

from __future__ import annotations

from sync.core.dn import split_dn
from sync.run.sync import run_sync

from directory_view import entries

SPECIALS = ',+"\\<>;=#'
CORPUS = [where.format(c) for c in SPECIALS for where in ("{}x", "x{}", "x{}y")] + [
    " lead",
    "trail ",
    "  ",
    "a\x00b",
    "a\nb",
    "tab\there",
    "\x7f",
    "x" * 10_000,
    "Ελληνικά-日本語-עברית-Ünïcödé",
    "*)(uid=*",
    "*",
    "(objectClass=*)",
    "\\2C",
    "\\",
    "cn=admin,dc=example,dc=org",
    "#abcd",
    "=",
    "\u200b",
    "portal-sync:external:P-1",
]


def hostile_document():
    customers, orders = [], []
    for i, value in enumerate(CORPUS):
        customers.append(
            {
                "id": f"c{i}{value}",
                "name": f"Name {value}",
                "remote_access": True,
                "contact_types": [{"id": f"t{value}", "name": value}],
                "persons": [
                    {
                        "id": f"p{i}{value}",
                        "first_name": value,
                        "last_name": f"L{value}",
                        "email": f"u{i}@example.org",
                        "contact_types": [f"t{value}"],
                        "account": {"login": f"u{i}{value}", "enabled": True},
                    }
                ],
            }
        )
        orders.append(
            {
                "id": f"o{i}{value}",
                "name": value,
                "customer": f"c{i}{value}",
                "portal_visible": True,
            }
        )
    return {"format_version": 1, "customers": customers, "orders": orders}


def rdn_value(dn):
    return split_dn(dn)[0][1]


def test_hostile_values_sync_exactly_or_are_refused_by_name(settings_for, slapd):
    document = hostile_document()
    settings = settings_for(document, safety={"max_deletions": 10_000})
    report = run_sync(settings)
    assert report.failure is None
    refused = {error.record for error in report.errors}
    tree = entries(slapd)
    synced = 0
    for i, value in enumerate(CORPUS):
        records = {
            f"customer c{i}{value}",
            f"person p{i}{value} of customer c{i}{value}",
            f"order o{i}{value}",
        }
        if records & refused:
            assert any(ch in value for ch in "\x00\n\t\x7f ") or len(value) > 1000, repr(value)
            continue
        synced += 1
        login = f"u{i}{value}"
        [user_dn] = [dn for dn, a in tree.items() if a.get("uid") == [login]]
        assert rdn_value(user_dn) == login and tree[user_dn]["sn"] == [f"L{value}"]
        assert tree[user_dn]["businesscategory"] == [f"portal-sync:external:p{i}{value}"]
        [group] = [a for a in tree.values() if a.get("cn") == [f"X{'c'}{i}{value}-Name {value}"]]
        assert [rdn_value(m) for m in group["member"]] == [login]
        [order] = [a for a in tree.values() if a.get("cn") == [f"order-o{i}{value}"]]
        assert [rdn_value(m) for m in order["member"]] == [login]
    assert synced >= len(SPECIALS) * 3 + 8
    users = [dn for dn, a in tree.items() if "uid" in a]
    assert len(users) == synced
    second = run_sync(settings)
    assert second.changes == []
