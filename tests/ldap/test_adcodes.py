"""Active Directory's codes in a result message, said in words (pure)."""

from __future__ import annotations

import pytest

from sync.ldap.adcodes import reason
from sync.run.passwords import CLASSES, generate_password


@pytest.mark.parametrize(
    ("message", "words"),
    [
        (
            "80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 52e, v1db1",
            "wrong password",
        ),
        ("80090308: LdapErr: DSID-0C09041C, data 533, v4563", "the account is disabled"),
        (
            "0000052D: Constraint violation - check_password_restrictions: the password is too short",
            "password policy",
        ),
        ("00002071: samldb: samAccountName 'x' already in use!", "already used by another"),
        ("", ""),
        ("no code here", ""),
        ("0000FFFF: a code nobody knows", ""),
    ],
)
def test_ad_codes_are_said_in_words(message, words):
    said = reason(message)
    assert (words in said) if words else said == ""


def test_a_generated_password_holds_every_character_class_for_ads_complexity_rule():
    for _ in range(500):
        password = generate_password(12)
        assert all(any(c in chars for c in password) for chars in CLASSES)
