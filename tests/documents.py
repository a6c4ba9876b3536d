"""Source documents that tests build in bulk."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any


def big_document(
    customers: int = 100,
    persons: int = 20,
    password_hash: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """Return a source with `customers` remote-access customers of `persons` users each.

    Each customer has one visible order; `password_hash(login)`, when given, is each
    account's source hash.
    """

    def account(login: str) -> dict[str, str]:
        if password_hash is None:
            return {"login": login}
        return {"login": login, "password_hash": password_hash(login)}

    return {
        "format_version": 1,
        "internal_users": [
            {"id": "U-1", "login": "staff", "last_name": "Staff", "groups": ["Prepress"]}
        ],
        "customers": [
            {
                "id": f"C{c}",
                "name": f"Customer {c}",
                "remote_access": True,
                "persons": [
                    {
                        "id": f"P-{c}-{p}",
                        "last_name": f"L{p}",
                        "contact_types": ["customer"] if p == 0 else ["ct"],
                        "account": account(f"user-{c}-{p}"),
                    }
                    for p in range(persons)
                ],
                "contact_types": [{"id": "ct", "name": "Area"}],
            }
            for c in range(customers)
        ],
        "orders": [
            {"id": f"O-{c}", "customer": f"C{c}", "portal_visible": True} for c in range(customers)
        ],
    }


def add_person(document: dict[str, Any], login: str, person_id: str = "P-90") -> None:
    """Give the first customer of a seed-shaped document one more person, with this login."""
    document["customers"][0]["persons"].append(
        {
            "id": person_id,
            "first_name": "Long",
            "last_name": "Login",
            "contact_types": ["ct-achats"],
            "account": {"login": login, "enabled": True},
        }
    )


def without_part(document: dict[str, Any], part: str) -> dict[str, Any]:
    """Return a copy of the document with one part of it emptied, the rest as it was.

    The parts are those of `sync.core.parts` (accounts, persons, roles, or a top-level list).
    """
    document = copy.deepcopy(document)
    if part == "accounts":
        for customer in document["customers"]:
            for person in customer["persons"]:
                person.pop("account", None)
    elif part == "persons":
        for customer in document["customers"]:
            customer["persons"] = []
    elif part == "roles":
        for user in document["internal_users"]:
            user["groups"] = []
    else:
        document[part] = []
    return document
