"""Write requests encoded as LDAP messages in BER (RFC 4511, section 4), by hand (pure).

ldap3 builds every request as a tree of pyasn1 objects and encodes it
with pyasn1: about a millisecond of CPU per add, which caps a pipelined
sync far below what slapd can take. The four write requests have a
simple, fixed shape, so they are encoded here directly to bytes; ldap3
still owns the connection, the bind, TLS and the decoding of answers.
The tests check these bytes against ldap3's own encoder.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

ADD_OPERATION = 0
DELETE_OPERATION = 1
REPLACE_OPERATION = 2
PERMISSIVE_MODIFY = "1.2.840.113556.1.4.1413"
"""Adding a value already there, or deleting one not there, succeeds (OpenLDAP, AD)."""


def _length(size: int) -> bytes:
    if size < 0x80:
        return bytes((size,))
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(octets),)) + octets


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes((tag,)) + _length(len(content)) + content


def _octets(value: str, tag: int = 0x04) -> bytes:
    return _tlv(tag, value.encode("utf-8"))


def _integer(value: int, tag: int = 0x02) -> bytes:
    size = max(1, (value.bit_length() + 8) // 8)
    return _tlv(tag, value.to_bytes(size, "big", signed=True))


def _attribute(name: str, values: Iterable[str]) -> bytes:
    """Return a PartialAttribute: SEQUENCE { type, vals SET OF value }."""
    encoded = b"".join(_octets(value) for value in values)
    return _tlv(0x30, _octets(name) + _tlv(0x31, encoded))


def message(message_id: int, operation: bytes, controls: Iterable[str] = ()) -> bytes:
    """Return an LDAPMessage: SEQUENCE { messageID, protocolOp, controls [0] OPTIONAL }.

    `controls` are the OIDs of non-critical controls without a value.
    """
    listed = b"".join(_tlv(0x30, _octets(oid)) for oid in controls)
    attached = _tlv(0xA0, listed) if listed else b""
    return _tlv(0x30, _integer(message_id) + operation + attached)


def add_request(dn: str, attributes: Mapping[str, Iterable[str]]) -> bytes:
    """Return an AddRequest ([APPLICATION 8])."""
    listed = b"".join(_attribute(name, values) for name, values in attributes.items())
    return _tlv(0x68, _octets(dn) + _tlv(0x30, listed))


def modify_request(dn: str, changes: Iterable[tuple[int, str, Iterable[str]]]) -> bytes:
    """Return a ModifyRequest ([APPLICATION 6]); each change is (operation, name, values)."""
    listed = b"".join(
        _tlv(0x30, _integer(operation, 0x0A) + _attribute(name, values))
        for operation, name, values in changes
    )
    return _tlv(0x66, _octets(dn) + _tlv(0x30, listed))


def delete_request(dn: str) -> bytes:
    """Return a DelRequest ([APPLICATION 10], primitive)."""
    return _octets(dn, 0x4A)


def modify_dn_request(dn: str, new_rdn: str, new_superior: str | None) -> bytes:
    """Return a ModifyDNRequest ([APPLICATION 12]) that deletes the old RDN value."""
    content = _octets(dn) + _octets(new_rdn) + b"\x01\x01\xff"
    if new_superior is not None:
        content += _octets(new_superior, 0x80)
    return _tlv(0x6C, content)
