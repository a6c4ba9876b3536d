"""Active Directory's own error codes, said in words.

AD puts a Windows error code in the text of an LDAP result: eight hex digits
at the start of the message (`0000052D: Constraint violation - ...`), and
for a refused bind a `data NNN` sub-code (`data 533`: the account is
disabled). The LDAP result code already decides what the run does
(`sync.ldap.translate`); these words tell the administrator what AD meant.
Codes as Samba 4.17 and Windows Server return them.
"""

from __future__ import annotations

import re

BIND_REASONS = {
    "525": "no such user",
    "52e": "wrong password",
    "530": "not allowed to log on at this time",
    "531": "not allowed to log on from this workstation",
    "532": "the password has expired",
    "533": "the account is disabled",
    "701": "the account has expired",
    "773": "the user must change the password first",
    "775": "the account is locked out",
}

REASONS = {
    "0000052D": "the password does not meet the domain's password policy "
    "(length, complexity or history)",
    "00002071": "the sAMAccountName (login) is already used by another account of the domain",
    "0000202F": "the userPrincipalName is already used by another account of the domain",
    "00000525": "a member value names no existing entry",
    "00002030": "there is no such entry",
    "00002015": "the entry is not empty (it has entries below it)",
    "0000200D": "a single-valued attribute was given several values",
    "00002014": "an attribute is not allowed by the entry's object classes (see the mapping)",
    "00002035": "Active Directory lets nobody create entries of this object class",
    "00000057": "a value is not valid for its attribute",
    "00002083": "a value is not valid for its attribute",
    "00002098": "the account has no right to do this (AD's access control)",
    "00000005": "the account has no right to do this (AD's access control)",
    "00002077": "the attribute is owned by the system and cannot be set",
}

_CODE = re.compile(r"\b(0000[0-9A-Fa-f]{4})\b")
_BIND_DATA = re.compile(r"\bdata ([0-9a-fA-F]{3})\b")


def reason(message: str | None) -> str:
    """Return what AD's code in a result message means, as " (Active Directory: ...)", or ""."""
    if not message:
        return ""
    data = _BIND_DATA.search(message)
    if data and data.group(1).lower() in BIND_REASONS:
        return f" (Active Directory: {BIND_REASONS[data.group(1).lower()]})"
    code = _CODE.search(message)
    if code and code.group(1).upper() in REASONS:
        return f" (Active Directory: {REASONS[code.group(1).upper()]})"
    return ""
