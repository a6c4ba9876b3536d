"""Connections to the directory: TLS, the bind, and what to fix when either fails."""

from __future__ import annotations

import math
import re
import ssl
from contextlib import suppress
from typing import Any

from ldap3 import FIRST, NONE, Connection, Server, ServerPool, Tls
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
                connection.start_tls()
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
        return ConfigurationError(
            f"{action}: the server's TLS certificate is refused: it is signed by a CA that is "
            f"not trusted. Set {settings.name_of('ca_file')} to the PEM bundle of the CA that "
            "signed it"
        )
    if _NO_TLS in text:
        return ConfigurationError(
            f"{action}: the server did not speak TLS on {server.host}:{server.port}: ldaps:// "
            "needs the server's TLS port (usually 636); for a plain LDAP port use ldap:// with "
            f"start_tls. Fix {url}"
        )
    if _NO_ADDRESS in text:
        return DirectoryUnavailable(
            f"{action}: the host name {server.host} cannot be resolved (DNS): check the host "
            f"in {url} and the name service of this machine"
        )
    return exc


def certificate_names(text: str) -> list[str]:
    """Return the host names (subject CN, DNS alternative names) a certificate error quotes."""
    found = re.findall(r"\('(?:commonName|DNS)', '([^']*)'\)", text)
    return list(dict.fromkeys(found))


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
