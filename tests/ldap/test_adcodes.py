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


@pytest.mark.parametrize(
    ("message", "words", "never"),
    [
        (
            "0000202F: samldb: sAMAccountName contains invalid '[' character",
            "a value breaks one of the directory's constraints",
            "userPrincipalName is already used",
        ),
        (
            "0000202F: samldb: sAMAccountName contains invalid '[' character",
            "its code does not say which attribute",
            "already used",
        ),
        (
            "00002035: Unable to find GUID for DN CN=a,OU=x",
            "unwilling to perform",
            "object class",
        ),
        (
            "0000200B: objectclass_attrs: attribute 'company' on entry 'CN=w1' contains at least "
            "one invalid value!",
            "a value of company is not valid for its syntax (too long",
            "does not say which",
        ),
        ("00002083: the value exists", "already holds this value", "not valid"),
        ("0000200D: attribute or value exists", "already holds this value", "single-valued"),
        ("00002081: single value", "single-valued attribute", "already holds"),
        ("00002082: range", "outside the range", "already holds"),
        ("00002071: samldb: Account name (sAMAccountName) 'x' already in use!", "a name", "UPN"),
    ],
)
def test_each_code_says_what_it_means_and_nothing_else(message, words, never):
    said = reason(message)
    assert words in said, said
    assert never not in said, said
