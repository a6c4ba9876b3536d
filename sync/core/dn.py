"""Distinguished names and filter values, per RFC 4514 and RFC 4515.

The pure core must build DNs without importing ldap3 (see the import-linter
contract in pyproject.toml), so the few rules live here. The tests check
them against ldap3's own parser.
"""

from __future__ import annotations

import re

# RFC 4514 needs '#' escaped only in first position; ldap3's parser wants it
# escaped everywhere, and escaping more than needed is always allowed.
_DN_SPECIALS = frozenset(',+"\\<>;=#')
_PLAIN_DN_BREAKERS = frozenset('+"\\;')


def _is_plain(value: str) -> bool:
    """Return whether a value needs no escaping at all (the common case, checked fast)."""
    return (
        value.isprintable()
        and _DN_SPECIALS.isdisjoint(value)
        and not value.startswith(" ")
        and not value.endswith(" ")
    )


def escape_rdn_value(value: str) -> str:
    """Return an attribute value escaped for use in an RDN (RFC 4514, section 2.4)."""
    if _is_plain(value):
        return value
    out: list[str] = []
    last = len(value) - 1
    for position, char in enumerate(value):
        if char in _DN_SPECIALS:
            out.append("\\" + char)
        elif char == "\x00":
            out.append("\\00")
        elif char == " " and position in (0, last):
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append("".join(f"\\{byte:02x}" for byte in char.encode()))
        else:
            out.append(char)
    return "".join(out)


def escape_filter_value(value: str) -> str:
    """Return a value escaped for use inside a search filter (RFC 4515, section 3)."""
    out: list[str] = []
    for char in value:
        if char in "*()\\\x00":
            out.append(f"\\{ord(char):02x}")
        else:
            out.append(char)
    return "".join(out)


def rdn(attribute: str, value: str) -> str:
    """Return one RDN `attribute=value` with the value escaped."""
    return f"{attribute}={escape_rdn_value(value)}"


def split_dn(dn: str) -> list[tuple[str, str]]:
    """Return the (attribute, unescaped value) pairs of a DN, leftmost first.

    Multi-valued RDNs are returned as consecutive pairs; the service never
    writes them, and for comparison their order is what the server stored.
    """
    if _PLAIN_DN_BREAKERS.isdisjoint(dn):
        plain: list[tuple[str, str]] = []
        for part in dn.split(","):
            name, equals, text = part.partition("=")
            if not equals:
                break
            plain.append((name.strip(), text))
        else:
            return plain
    pairs: list[tuple[str, str]] = []
    attribute: list[str] = []
    value = bytearray()
    in_value = False
    index = 0
    while index < len(dn):
        char = dn[index]
        if not in_value:
            if char == "=":
                in_value = True
            else:
                attribute.append(char)
            index += 1
            continue
        if char == "\\":
            pair = dn[index + 1 : index + 3]
            if len(pair) == 2 and all(c in "0123456789abcdefABCDEF" for c in pair):
                value.append(int(pair, 16))
                index += 3
            else:
                if index + 1 >= len(dn):
                    raise ValueError(f"DN ends in a lone backslash: {dn!r}")
                value.extend(dn[index + 1].encode())
                index += 2
            continue
        if char in ",+;":
            pairs.append(("".join(attribute).strip(), value.decode()))
            attribute, value, in_value = [], bytearray(), False
            index += 1
            continue
        value.extend(char.encode())
        index += 1
    if in_value:
        pairs.append(("".join(attribute).strip(), value.decode()))
    elif "".join(attribute).strip():
        raise ValueError(f"RDN without '=': {dn!r}")
    return pairs


_WORD = r'[^,=+"\\<>;#\s]+'
_PLAIN_DN = re.compile(rf"{_WORD}={_WORD}(?: {_WORD})*(?:,{_WORD}={_WORD}(?: {_WORD})*)*")
"""A DN that `normalize_dn` only folds to lower case: one `=` per RDN, no character to
escape or unescape, no space to strip (single spaces inside a value only)."""


def normalize_dn(dn: str) -> str:
    """Return a DN in a form that compares equal for equal DNs.

    Attribute types and values are folded to lower case: every naming
    attribute the service uses (uid, cn, ou, dc) matches case-insensitively.
    Most DNs need nothing else, and are told apart by one regular expression:
    a run at size M normalizes a few hundred thousand of them, and parsing
    each one cost a tenth of the build of the desired entries.
    """
    if dn.isprintable() and _PLAIN_DN.fullmatch(dn):
        return dn.lower()
    return _normalized_pairs(dn)


def _normalized_pairs(dn: str) -> str:
    """Return `normalize_dn` of any DN, by parsing it pair by pair."""
    return ",".join(
        f"{attribute.lower()}={escape_rdn_value(value.strip()).lower()}"
        for attribute, value in split_dn(dn)
    )


def parent_dn(dn: str) -> str:
    """Return the DN of the entry above `dn`."""
    pairs = split_dn(dn)
    return join_dn(pairs[1:])


def leaf_rdn(dn: str) -> str:
    """Return the leftmost RDN of `dn`, escaped."""
    attribute, value = split_dn(dn)[0]
    return rdn(attribute, value)


def join_dn(pairs: list[tuple[str, str]]) -> str:
    """Return the DN made of (attribute, value) pairs, escaping each value."""
    return ",".join(rdn(attribute, value) for attribute, value in pairs)
