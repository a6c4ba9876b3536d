"""Active Directory's own error codes, said in words.

AD puts a Windows error code in the text of an LDAP result: eight hex digits
at the start of the message (`0000052D: Constraint violation - ...`), and
for a refused bind a `data NNN` sub-code (`data 533`: the account is
disabled). The LDAP result code already decides what the run does
(`sync.ldap.translate`); these words tell the administrator what AD meant.

Each code is one Windows error (`WERR_DS_...` in Samba's werror table, the
same numbers as Windows Server). Several are generic: `0000202F`
(constraint violation) is returned for a login in use, a character AD
refuses in a login and more. Their words say what the code means and that
the code does not say which attribute; the message AD sent (kept next to
these words) may. When the message names the attribute
(`attribute 'company'`, as Samba's do), the words name it too.
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

UNSAID = "its code does not say which attribute; see AD's message"
"""Said after the words of a generic code when AD's message names no attribute."""

REASONS = {
    # WERR_PASSWORD_RESTRICTION
    "0000052D": "the password does not meet the domain's password policy "
    "(length, complexity or history)",
    # WERR_NO_SUCH_USER
    "00000525": "no such user: a name in the request (e.g. a member value) names no account",
    # WERR_DS_OBJ_STRING_NAME_EXISTS
    "00002071": "a name that must be unique in the domain is already used by another object "
    "(for a user, usually its sAMAccountName)",
    # WERR_DS_CONSTRAINT_VIOLATION
    "0000202F": "a value breaks one of the directory's constraints (a login or UPN that "
    "another account holds, a character AD refuses in a login, a value too long...); {attribute}",
    # WERR_DS_NO_SUCH_OBJECT
    "00002030": "there is no such entry",
    # WERR_DS_CANT_ON_NON_LEAF
    "00002015": "the entry is not empty (it has entries below it)",
    # WERR_DS_ATTRIBUTE_OR_VALUE_EXISTS, WERR_DS_ATT_VAL_ALREADY_EXISTS
    "0000200D": "the attribute already holds this value; {attribute}",
    "00002083": "the attribute already holds this value; {attribute}",
    # WERR_DS_SINGLE_VALUE_CONSTRAINT
    "00002081": "a single-valued attribute was given several values; {attribute}",
    # WERR_DS_RANGE_CONSTRAINT
    "00002082": "a value is outside the range its attribute allows; {attribute}",
    # WERR_DS_INVALID_ATTRIBUTE_SYNTAX
    "0000200B": "a value of {name} is not valid for its syntax (too long, or a "
    "character or form the attribute does not take)",
    # WERR_DS_OBJ_CLASS_VIOLATION
    "00002014": "an attribute is not allowed by the entry's object classes, or a required one "
    "is missing (see the mapping); {attribute}",
    # WERR_DS_UNWILLING_TO_PERFORM
    "00002035": "the server is unwilling to perform this change; its code says no more "
    "(see AD's message)",
    # WERR_INVALID_PARAMETER
    "00000057": "a parameter of the request is not valid; {attribute}",
    # WERR_DS_INSUFF_ACCESS_RIGHTS, WERR_ACCESS_DENIED
    "00002098": "the account has no right to do this (AD's access control)",
    "00000005": "the account has no right to do this (AD's access control)",
    # WERR_DS_ILLEGAL_MOD_OPERATION
    "00002077": "this change to the attribute is not allowed (e.g. an attribute the system "
    "owns); {attribute}",
    # WERR_DS_ATT_NOT_DEF_FOR_CLASS
    "0000207D": "an attribute is not defined for the entry's object class; {attribute}",
    # WERR_DS_NAMING_VIOLATION
    "00002037": "the entry's name breaks a naming rule (its RDN or its parent)",
}

_CODE = re.compile(r"\b(0000[0-9A-Fa-f]{4})\b")
_BIND_DATA = re.compile(r"\bdata ([0-9a-fA-F]{3})\b")
_ATTRIBUTE = re.compile(r"\battribute '([A-Za-z][A-Za-z0-9-]*)'")


def reason(message: str | None) -> str:
    """Return what AD's code in a result message means, as " (Active Directory: ...)", or ""."""
    if not message:
        return ""
    data = _BIND_DATA.search(message)
    if data and data.group(1).lower() in BIND_REASONS:
        return f" (Active Directory: {BIND_REASONS[data.group(1).lower()]})"
    code = _CODE.search(message)
    if not code or code.group(1).upper() not in REASONS:
        return ""
    named = _ATTRIBUTE.search(message)
    words = REASONS[code.group(1).upper()].format(
        attribute=f"the attribute is {named.group(1)}" if named else UNSAID,
        name=named.group(1) if named else "an attribute (its code does not say which)",
    )
    return f" (Active Directory: {words})"
