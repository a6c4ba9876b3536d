"""The core's fast paths for plain DNs give exactly what the general code gives."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sync.core import dn as dnlib

ALPHABET = st.sampled_from([*'abcXYZé ü#=,+"\\<>;0-.', "\x00", "\n", "\xa0"])
VALUES = st.text(ALPHABET, min_size=1, max_size=12)


def escape_slowly(value: str) -> str:
    """The general escaping, char by char (RFC 4514, section 2.4, and '#' everywhere)."""
    out = []
    for position, char in enumerate(value):
        if char in ',+"\\<>;=#':
            out.append("\\" + char)
        elif char == "\x00":
            out.append("\\00")
        elif char == " " and position in (0, len(value) - 1):
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append("".join(f"\\{byte:02x}" for byte in char.encode()))
        else:
            out.append(char)
    return "".join(out)


@given(VALUES)
def test_escaping_a_value_matches_the_general_rule(value):
    assert dnlib.escape_rdn_value(value) == escape_slowly(value)


@given(st.lists(st.tuples(st.sampled_from(["uid", "cn", "ou", "dc"]), VALUES), min_size=1))
def test_a_built_dn_splits_back_into_its_parts(pairs):
    assert dnlib.split_dn(dnlib.join_dn(pairs)) == pairs


@given(st.lists(st.tuples(st.sampled_from(["uid", "cn", "ou", "dc"]), VALUES), min_size=1))
def test_normalizing_is_idempotent_and_ignores_case(pairs):
    dn = dnlib.join_dn(pairs)
    once = dnlib.normalize_dn(dn)
    assert dnlib.normalize_dn(once) == once
    assert dnlib.normalize_dn(dn.upper()) == dnlib.normalize_dn(dn.upper().lower())
