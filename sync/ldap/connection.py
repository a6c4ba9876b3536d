"""Connections to the directory: TLS, the bind, and what to fix when either fails."""

from __future__ import annotations

import ast
import math
import re
import ssl
from contextlib import suppress
from typing import Any

from ldap3 import BASE, FIRST, NONE, Connection, Server, ServerPool, Tls
from ldap3.core import exceptions as ldap_exc
from ldap3.utils.config import set_config_parameter

from sync.errors import BindFailed, ConfigurationError, DirectoryError, DirectoryUnavailable
from sync.ldap.adcodes import reason
from sync.ldap.translate import translated
from sync.settings import LdapSettings

_UNKNOWN_CA = "CERTIFICATE_VERIFY_FAILED"
_OTHER_HOST = "doesn't match any name"
_NO_TLS = "socket ssl wrapping error"
_NO_ADDRESS = "invalid server address"
_NOT_TLS = ("WRONG_VERSION_NUMBER", "wrong version number", "RECORD_LAYER_FAILURE", "HTTP_REQUEST")
"""What the TLS layer says when the other side answered with bytes that are not TLS."""
_DROPPED = ("EOF", "Connection reset", "Broken pipe", "timed out")
"""What it says when the other side closed the connection (or went silent) in the handshake."""
_UNTRUSTED = (
    "unable to get local issuer certificate",
    "self-signed certificate",
    "self signed certificate",
    "unable to verify the first certificate",
    "unable to get issuer certificate",
)


def _tls(settings: LdapSettings) -> Tls:
    """Return the TLS set-up of the settings: validation on unless switched off."""
    return Tls(
        validate=ssl.CERT_REQUIRED if settings.tls_verify else ssl.CERT_NONE,
        ca_certs_file=str(settings.ca_file) if settings.ca_file else None,
        local_certificate_file=(
            str(settings.client_cert_file) if settings.client_cert_file else None
        ),
        local_private_key_file=str(settings.client_key_file) if settings.client_key_file else None,
        valid_names=[settings.tls_name] if settings.tls_name else None,
    )


def _server(settings: LdapSettings) -> Server | ServerPool:
    """Return the server of `ldap.url`; for a list, a pool using the first reachable in order.

    The pool tries each server once per connection (`active=1`) and leaves out
    those that did not answer (`exhaust`); none reachable is an unavailable
    directory. Each connection picks again, so a run after a failover starts
    on the first server again as soon as it answers. ldap3 pauses
    `POOLING_LOOP_TIMEOUT` (10 s) after a round even when it was the last
    one; that process-wide parameter is set to 0 (no pool waits elsewhere).
    """
    use_tls = settings.uses_tls or settings.ca_file is not None
    servers = [
        Server(
            url,
            get_info=NONE,
            connect_timeout=settings.timeout,
            tls=_tls(settings) if use_tls else None,
        )
        for url in settings.urls
    ]
    if len(servers) == 1:
        return servers[0]
    set_config_parameter("POOLING_LOOP_TIMEOUT", 0)
    return ServerPool(servers, FIRST, active=1, exhaust=True)


def served_by(settings: LdapSettings, connection: Connection) -> str:
    """Return the server of `ldap.url` that `connection` went to, as the settings spell it."""
    pool = connection.server_pool
    index: int = 0 if pool is None else pool.servers.index(connection.server)
    return settings.urls[index]


def bound_connection(
    settings: LdapSettings, user: str, password: str, **options: Any
) -> Connection:
    """Return a connection bound as `user` (anonymous when empty), over TLS when configured.

    `options` go to ldap3's Connection (e.g. another client strategy). A
    refused service account, a server certificate that the configured CAs do
    not vouch for or that names another host, and a port that speaks no TLS
    are errors saying which setting to fix, named where it was set.
    """
    action = f"connecting to {settings.url} as {user or 'anonymous'}"
    server = _server(settings)
    connection = Connection(
        server,
        user=user or None,
        password=password or None,
        raise_exceptions=True,
        receive_timeout=math.ceil(settings.timeout),
        check_names=False,
        **options,
    )
    try:
        with translated(action):
            if settings.start_tls:
                connection.open()
                _start_tls(connection, settings, action)
            connection.bind()
    except (DirectoryError, ConfigurationError) as exc:
        with suppress(ldap_exc.LDAPException):
            connection.unbind()
        explained = _explained(exc, settings, connection.server, user)
        if explained is exc:
            raise
        raise explained from exc
    return connection


def _explained(
    exc: DirectoryError | ConfigurationError, settings: LdapSettings, server: Server, user: str
) -> DirectoryError | ConfigurationError:
    """Return the error of a failed connection or bind, saying what to fix and where."""
    action = f"connecting to {settings.url} as {user or 'anonymous'}"
    text = str(exc)
    url = settings.name_of("url")
    if isinstance(exc, BindFailed) and user == settings.bind_dn:
        if not user:
            return BindFailed(
                f"{action}: the server refused the anonymous bind: set the service account in "
                f"{settings.name_of('bind_dn')} and its password in "
                f"{settings.name_of('bind_password')}"
            )
        return BindFailed(
            f"{action}: the server refused the bind as {user} (wrong password, or no such "
            f"account){reason(text)}: fix the password in {settings.name_of('bind_password')}, "
            f"or the DN in {settings.name_of('bind_dn')}"
        )
    if _OTHER_HOST in text:
        expected = ", ".join([server.host, *([settings.tls_name] if settings.tls_name else [])])
        held = ", ".join(certificate_names(text)) or "no host name"
        return ConfigurationError(
            f"{action}: the server's TLS certificate names {held}, not {expected}. Connect "
            f"to a name the certificate holds (fix {url}), or set "
            f"{settings.name_of('tls_name')} to the name it holds (validation stays on)"
        )
    if _UNKNOWN_CA in text:
        return _refused_certificate(action, settings, _verify_message(text))
    if _NO_TLS in text or "wrap socket error" in text:
        return _no_handshake(exc, action, settings, server)
    if _NO_ADDRESS in text:
        return DirectoryUnavailable(
            f"{action}: the host name {server.host} cannot be resolved (DNS): check the host "
            f"in {url} and the name service of this machine"
        )
    return exc


def _start_tls(connection: Connection, settings: LdapSettings, action: str) -> None:
    """Send StartTLS; a server that refuses the request does not offer it: say so."""
    try:
        connection.start_tls()
    except ldap_exc.LDAPOperationResult as exc:
        if isinstance(exc, ldap_exc.LDAPBusyResult | ldap_exc.LDAPUnavailableResult):
            raise
        answer = f"{exc.description}: {exc.message}".rstrip(": ")
        raise ConfigurationError(
            f"{action}: the server does not offer StartTLS (it answered the StartTLS request "
            f"with {answer}). Set up TLS on the server, or connect to its TLS port with an "
            f"ldaps:// URL in {settings.name_of('url')} and switch off "
            f"{settings.name_of('start_tls')}"
        ) from exc


def _verify_message(text: str) -> str:
    """Return why the TLS layer refused the certificate ("certificate has expired"), or ""."""
    found = re.search(r"certificate verify failed: ([^'\"(]*)", text)
    return found.group(1).strip() if found else ""


def _refused_certificate(action: str, settings: LdapSettings, why: str) -> ConfigurationError:
    """Return the error for a certificate the TLS layer refused, saying what happened."""
    if not why or any(reason in why for reason in _UNTRUSTED):
        return ConfigurationError(
            f"{action}: the server's TLS certificate is refused: it is signed by a CA that is "
            f"not trusted. Set {settings.name_of('ca_file')} to the PEM bundle of the CA that "
            "signed it"
        )
    if "expired" in why or "not yet valid" in why:
        return ConfigurationError(
            f"{action}: the server's TLS certificate is refused: {why} (the clock of this "
            "machine is the judge: check it too). The directory's administrator must renew the "
            "server's certificate; validation stays on"
        )
    return ConfigurationError(
        f"{action}: the server's TLS certificate is refused: {why}. Fix the server's "
        f"certificate, or set {settings.name_of('ca_file')} to the PEM bundle of the CA that "
        "signed it"
    )


def _no_handshake(
    exc: DirectoryError | ConfigurationError, action: str, settings: LdapSettings, server: Server
) -> DirectoryError | ConfigurationError:
    """Return the error of a TLS handshake that did not happen.

    Bytes that are not TLS mean a port that speaks something else. A
    connection closed without a word is either a plain LDAP server (slapd
    closes on what it cannot parse) or a server going down, or a proxy or
    load balancer with no server behind it: a plain LDAP request to the same
    port tells them apart.
    """
    text = str(exc)
    where = f"{server.host}:{server.port}"
    if settings.start_tls:
        plain = (
            f"{action}: the server answered StartTLS on {where} but then did not speak TLS: "
            f"check that {settings.name_of('url')} names the directory itself, not a proxy "
            "that does not pass StartTLS through"
        )
    else:
        plain = (
            f"{action}: the server did not speak TLS on {where}: ldaps:// needs the server's "
            "TLS port (usually 636); for a plain LDAP port use ldap:// with start_tls. Fix "
            f"{settings.name_of('url')}"
        )
    if any(sign in text for sign in _NOT_TLS):
        return ConfigurationError(plain)
    if not any(sign in text for sign in _DROPPED):
        return exc
    if not settings.start_tls and _speaks_plain_ldap(server, settings.timeout):
        return ConfigurationError(plain)
    return DirectoryUnavailable(
        f"{action}: the directory server is unavailable: {where} closed the connection during "
        "the TLS handshake (the server is going down, a proxy in front of it has no server "
        "to pass the connection to, or the server has no TLS certificate to offer)"
    )


def _speaks_plain_ldap(server: Server, timeout: float) -> bool:
    """Return whether `server`'s port answers an LDAP request sent without TLS."""
    probe = Connection(
        Server(
            server.host, port=server.port, use_ssl=False, get_info=NONE, connect_timeout=timeout
        ),
        receive_timeout=math.ceil(timeout),
        raise_exceptions=False,
    )
    try:
        probe.open()
        probe.search("", "(objectClass=*)", BASE, attributes=["1.1"])
    except ldap_exc.LDAPException:
        return False
    finally:
        with suppress(ldap_exc.LDAPException):
            probe.unbind()
    return isinstance(probe.result, dict) and "result" in probe.result


def certificate_names(text: str) -> list[str]:
    """Return the host names the certificate quoted in an error holds (subject CN, DNS, IP).

    The error quotes the whole certificate, the issuer's name included;
    only the subject's common name and the alternative names are the
    certificate's own names.
    """
    start, end = text.find("certificate {"), text.rfind("} doesn't match")
    try:
        certificate = ast.literal_eval(text[start + len("certificate ") : end + 1])
    except (ValueError, SyntaxError):
        certificate = None
    if not isinstance(certificate, dict):
        subject = re.search(r"'subject': (.*?), 'issuer'", text)
        found = re.findall(r"\('commonName', '([^']*)'\)", subject.group(1) if subject else "")
        found += re.findall(r"\('(?:DNS|IP Address)', '([^']*)'\)", text)
        return list(dict.fromkeys(found))
    names = [
        value
        for part in certificate.get("subject", ())
        for name, value in part
        if name == "commonName"
    ]
    names += [
        value
        for kind, value in certificate.get("subjectAltName", ())
        if kind in ("DNS", "IP Address")
    ]
    return list(dict.fromkeys(names))


def password_accepted(settings: LdapSettings, dn: str, password: str) -> bool:
    """Return whether the server accepts a simple bind as `dn` with `password`."""
    if not password:
        return False
    try:
        connection = bound_connection(settings, dn, password)
    except BindFailed:
        return False
    with suppress(ldap_exc.LDAPException):
        connection.unbind()
    return True


def change_own_password(settings: LdapSettings, dn: str, old: str, new: str) -> None:
    """Change a user's password as that user (Password Modify with the old password)."""
    connection = bound_connection(settings, dn, old)
    try:
        with translated(f"changing the password of {dn}"):
            connection.extend.standard.modify_password(dn, old, new)
    finally:
        with suppress(ldap_exc.LDAPException):
            connection.unbind()
