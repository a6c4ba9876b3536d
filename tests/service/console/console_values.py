"""The console tests' values: logins, the signing key and the scenario with hostile names."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from portal_helpers import password_of, with_hashes

from conftest import SEED

SECRET = "console-test-signing-key-5e1b"
ADMIN = "admin.print"
"""An internal user in Administrators (seed scenario)."""
SECOND_ADMIN = "eva.admin"
"""An internal user in Administrators added for the tests that take someone out of the group."""
THIRD_ADMIN = "otto.admin"
"""An internal user in Administrators added for the test of the login limit."""
STAFF = "anna.schmidt"
"""An internal user who is not in Administrators."""
EXTERNAL = "jsilva"
REFUSALS = pytest.mark.parametrize(
    ("login", "secret"),
    [
        (ADMIN, "not-the-password"),
        (EXTERNAL, None),
        (STAFF, None),
        ("nobody.here", "whatever"),
        (ADMIN, ""),
    ],
    ids=["wrong-password", "external-user", "staff-not-in-group", "unknown", "empty-password"],
)
"""Every way a login to the console is refused; `None` stands for the user's right password."""
HOSTILE = "<script>alert('x')</script> \"Q\" & 'A' שלום \u202eevil"
"""A customer and person name with markup, quotes, an ampersand and right-to-left text."""
HOSTILE_ID = "10666"


def console_document() -> dict[str, Any]:
    """Return the seed scenario with a second admin, a hostile customer and test passwords."""
    document = copy.deepcopy(SEED)
    for number, login in ((9, SECOND_ADMIN), (10, THIRD_ADMIN)):
        document["internal_users"].append(
            {
                "id": f"U-{number}",
                "login": login,
                "first_name": login.split(".")[0].title(),
                "last_name": "Admin",
                "groups": ["Administrators"],
                "enabled": True,
            }
        )
    document["customers"].append(
        {
            "id": HOSTILE_ID,
            "name": HOSTILE,
            "nickname": HOSTILE,
            "remote_access": True,
            "contact_types": [{"id": "customer", "name": HOSTILE}],
            "persons": [
                {
                    "id": "P-666",
                    "first_name": HOSTILE,
                    "last_name": HOSTILE,
                    "contact_types": ["customer"],
                    "account": {"login": "hostile", "enabled": True},
                }
            ],
        }
    )
    document["orders"].append(
        {
            "id": "_20261124_666",
            "name": HOSTILE,
            "customer": HOSTILE_ID,
            "agency": "10002",
            "portal_visible": True,
        }
    )
    return with_hashes(document)


def password(login: str) -> str:
    """Return the directory password of a test login."""
    return password_of(login)
