"""The hand-written BER of write requests is byte for byte what ldap3 would send."""

from __future__ import annotations

import pytest
from ldap3 import MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE
from ldap3.operation.add import add_operation
from ldap3.operation.delete import delete_operation
from ldap3.operation.modify import modify_operation
from ldap3.operation.modifyDn import modify_dn_operation
from ldap3.protocol.rfc4511 import LDAPMessage, MessageID, ProtocolOp
from pyasn1.codec.ber import encoder

from sync.ldap import ber


def ldap3_bytes(message_id: int, name: str, request) -> bytes:
    message = LDAPMessage()
    message["messageID"] = MessageID(message_id)
    message["protocolOp"] = ProtocolOp().setComponentByName(name, request)
    return encoder.encode(message)


LONG = "x" * 300
HUGE = "é" * 40000


@pytest.mark.parametrize("message_id", [1, 127, 128, 255, 256, 65535, 2**31 - 1])
@pytest.mark.parametrize("value", ["Lefèvre", LONG, HUGE, ""])
def test_an_add_request_encodes_like_ldap3(message_id, value):
    attributes = {"objectClass": ["inetOrgPerson"], "sn": [value, "b"], "cn": ["Jean, Petit"]}
    ours = ber.message(message_id, ber.add_request("uid=a\\,b,dc=example,dc=org", attributes))
    theirs = ldap3_bytes(
        message_id, "addRequest", add_operation("uid=a\\,b,dc=example,dc=org", attributes, True)
    )
    assert ours == theirs


def test_a_modify_request_encodes_like_ldap3():
    changes = [
        (ber.REPLACE_OPERATION, "mail", ["a@example.org"]),
        (ber.REPLACE_OPERATION, "mobile", []),
        (ber.ADD_OPERATION, "member", ["uid=a,dc=x", "uid=b,dc=x"]),
        (ber.DELETE_OPERATION, "member", ["uid=c,dc=x"]),
    ]
    ours = ber.message(7, ber.modify_request("cn=g,dc=x", changes))
    kinds = {
        ber.REPLACE_OPERATION: MODIFY_REPLACE,
        ber.ADD_OPERATION: MODIFY_ADD,
        ber.DELETE_OPERATION: MODIFY_DELETE,
    }
    as_ldap3 = {}
    for op, name, values in changes:
        as_ldap3.setdefault(name, []).append((kinds[op], values))
    theirs = ldap3_bytes(7, "modifyRequest", modify_operation("cn=g,dc=x", as_ldap3, True))
    assert ours == theirs


def test_a_delete_request_encodes_like_ldap3():
    assert ber.message(9, ber.delete_request("uid=ü,dc=x")) == ldap3_bytes(
        9, "delRequest", delete_operation("uid=ü,dc=x")
    )


@pytest.mark.parametrize("superior", [None, "ou=other,dc=x"])
def test_a_modify_dn_request_encodes_like_ldap3_with_true_as_rfc_4511_asks(superior):
    ours = ber.message(3, ber.modify_dn_request("uid=a,ou=x,dc=x", "uid=b", superior))
    theirs = ldap3_bytes(
        3, "modDNRequest", modify_dn_operation("uid=a,ou=x,dc=x", "uid=b", True, superior)
    )
    # deleteoldrdn TRUE: pyasn1 writes 0x01, RFC 4511 section 5.1 asks for 0xFF
    assert ours == theirs.replace(b"\x01\x01\x01", b"\x01\x01\xff", 1)


def test_a_modify_with_the_permissive_control_encodes_like_ldap3():
    from ldap3.protocol.convert import build_controls_list

    changes = [(ber.ADD_OPERATION, "member", ["uid=a,dc=x"])]
    ours = ber.message(5, ber.modify_request("cn=g,dc=x", changes), [ber.PERMISSIVE_MODIFY])
    message = LDAPMessage()
    message["messageID"] = MessageID(5)
    request = modify_operation("cn=g,dc=x", {"member": [(MODIFY_ADD, ["uid=a,dc=x"])]}, True)
    message["protocolOp"] = ProtocolOp().setComponentByName("modifyRequest", request)
    message["controls"] = build_controls_list([(ber.PERMISSIVE_MODIFY, False, None)])
    assert ours == encoder.encode(message)
