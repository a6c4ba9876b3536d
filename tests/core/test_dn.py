"""DN and filter escaping agree with RFC 4514/4515 as ldap3 parses them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import parse_dn

from sync.core import dn as dnlib

HOSTILE = [",", "+", '"', "\\", "<", ">", ";", "=", "#", " ", "*)(uid=*", "é", "\x00", "\n"]


@given(st.text(min_size=1, max_size=40))
def test_escaped_values_round_trip_through_ldap3s_parser(value):
    dn = f"cn={dnlib.escape_rdn_value(value)},ou=groups,dc=example,dc=org"
    parsed = parse_dn(dn, escape=False, strip=False)
    assert len(parsed) == 4
    assert dnlib.split_dn(dn)[0] == ("cn", value)


@pytest.mark.parametrize("char", HOSTILE)
@pytest.mark.parametrize("where", ["{}x", "x{}", "x{}y"])
def test_special_characters_at_every_position_stay_in_one_rdn(char, where):
    value = where.format(char)
    dn = f"uid={dnlib.escape_rdn_value(value)},ou=external,dc=example,dc=org"
    assert dnlib.split_dn(dn) == [
        ("uid", value),
        ("ou", "external"),
        ("dc", "example"),
        ("dc", "org"),
    ]
    assert len(parse_dn(dn)) == 4


@given(st.text(max_size=40))
def test_filter_escaping_matches_ldap3(value):
    assert dnlib.escape_filter_value(value) == escape_filter_chars(value)


def test_normalized_dns_ignore_case_and_escaping_form():
    assert dnlib.normalize_dn("UID=Bob\\2C Jr,OU=External") == dnlib.normalize_dn(
        "uid=bob\\, jr,ou=external"
    )


def test_parent_and_leaf():
    dn = "cn=a\\,b,ou=orders,ou=groups,dc=x"
    assert dnlib.parent_dn(dn) == "ou=orders,ou=groups,dc=x"
    assert dnlib.leaf_rdn(dn) == "cn=a\\,b"


_TRICKY = 'aZ09 ΣσςİIıß\u3000\u00a0\u202e\t,=+"\\<>;#'
"""Letters whose lower case depends on context or spans two characters, spaces of every
kind, a direction mark, and every character an RDN escapes."""


@given(
    st.lists(
        st.tuples(
            st.text(alphabet="cnouidCNOUID ", min_size=0, max_size=4),
            st.text(alphabet=_TRICKY, max_size=8),
            st.booleans(),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_the_quick_normal_form_is_the_parsed_one(parts):
    """`normalize_dn` folds most DNs to lower case at once; it must equal parsing them."""
    dn = ",".join(
        f"{name}={dnlib.escape_rdn_value(value) if escaped else value}"
        for name, value, escaped in parts
    )
    try:
        parsed = dnlib._normalized_pairs(dn)
    except ValueError:  # not a DN at all (a lone backslash): nothing to compare
        return
    assert dnlib.normalize_dn(dn) == parsed


@pytest.mark.parametrize(
    "dn",
    [
        "uid=jdoe,ou=external,dc=example,dc=org",
        "cn=Müller Druck GmbH,ou=customers,dc=example,dc=org",
        "CN=ΟΔΟΣ,OU=Groups,DC=example,DC=org",
        "cn=İstanbul Baskı,ou=customers,dc=example,dc=org",
    ],
)
def test_plain_dns_take_the_quick_way(dn):
    assert dnlib._PLAIN_DN.fullmatch(dn), "the quick way must cover the common DNs"
    assert dnlib.normalize_dn(dn) == dnlib._normalized_pairs(dn)
