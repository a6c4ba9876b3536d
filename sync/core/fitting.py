"""Values fitted to what a directory takes, before anything is written (pure).

Active Directory refuses a `cn`, `company` or `givenName` over 64 characters
and some characters in a logon name. A customer's name is not the
customer's fault: it is shortened, the same way every run and never onto
another name (its first characters, then `~` and a hash of the whole
value), and the mapping keeps the full text in an attribute that holds it
(a group's `description`). A login cannot be shortened (the person logs in
with it): what does not fit there is a record error that names the limit.

Lengths are counted as AD counts them, in UTF-16 code units: a character
outside the Basic Multilingual Plane (an emoji) counts twice.
"""

from __future__ import annotations

import hashlib

MARK = "~"
"""Put between the kept head of a shortened value and its hash."""
HASH_LENGTH = 8
"""Hex digits of the hash of the whole value that end a shortened value."""


def units(value: str) -> int:
    """Return the length of a value in UTF-16 code units, as AD counts it."""
    return sum(2 if ord(char) > 0xFFFF else 1 for char in value)


def shorten(value: str, limit: int) -> str:
    """Return the value when it fits `limit`, else its head, `~` and a hash of the whole value."""
    if units(value) <= limit:
        return value
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:HASH_LENGTH]
    tail = MARK + digest
    if limit <= len(tail):
        return digest[:limit]
    room = limit - len(tail)
    head: list[str] = []
    used = 0
    for char in value:
        width = 2 if ord(char) > 0xFFFF else 1
        if used + width > room:
            break
        head.append(char)
        used += width
    return "".join(head).rstrip() + tail


def refused_in(value: str, characters: str, last: str) -> list[str]:
    """Return the characters of `value` a directory refuses there, in order, each once."""
    found = [char for char in dict.fromkeys(value) if char in characters]
    if last and value and value[-1] in last and value[-1] not in found:
        found.append(value[-1])
    return found
