"""Password hashes as a source document carries them, made the way slapd checks them."""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Any


def ssha(password: str) -> str:
    """Return a salted SHA-1 hash in RFC 2307 form ({SSHA})."""
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def password_of(login: str) -> str:
    """Return the test password of a login."""
    return f"pw-{login}-Secret"


def with_hashes(document: dict[str, Any]) -> dict[str, Any]:
    """Give every user and account of a document the source hash of its test password."""
    for user in document.get("internal_users", []):
        user["password_hash"] = ssha(password_of(user["login"]))
    for customer in document.get("customers", []):
        for person in customer.get("persons", []):
            if person.get("account"):
                person["account"]["password_hash"] = ssha(password_of(person["account"]["login"]))
    return document
