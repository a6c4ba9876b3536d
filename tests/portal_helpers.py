"""Helpers of the portal tests: source password hashes the way slapd checks them, configs."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from sync.settings import Settings


def ssha(password: str) -> str:
    """Return a salted SHA-1 hash in RFC 2307 form ({SSHA})."""
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def person_with_login(document: dict[str, Any], login: str) -> dict[str, Any]:
    """Return the contact person of a document whose account has this login."""
    for customer in document["customers"]:
        for person in customer["persons"]:
            if (person.get("account") or {}).get("login") == login:
                return person
    raise KeyError(login)


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


def write_config(path: Path, settings: Settings, options: dict[str, Any]) -> Path:
    """Write a TOML settings file for the CLI with the given password options."""
    toml = [
        f'state_dir = "{settings.state_dir}"',
        "[ldap]",
        f'url = "{settings.ldap.url}"',
        f'bind_dn = "{settings.ldap.bind_dn}"',
        f'bind_password = "{settings.ldap.bind_password.get_secret_value()}"',
        f'base_dn = "{settings.ldap.base_dn}"',
        "[source]",
        f'path = "{settings.source.path}"',
        "[passwords]",
        *(f"{name} = {json.dumps(value)}" for name, value in options.items()),
    ]
    path.write_text("\n".join(toml) + "\n")
    return path
