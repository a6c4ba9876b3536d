"""TLS to a slapd that serves a certificate from a CA made by the test (trustme)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from sync.errors import BindFailed, ConfigurationError, DirectoryUnavailable
from sync.ldap.directory import Directory
from sync.ldap.localserver import LocalServer, ServerTls
from sync.settings import LdapSettings

from conftest import running

pytestmark = pytest.mark.slapd


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("portal-sync.client.example")
    stranger = trustme.CA()
    files = {
        "ca": ca.cert_pem,
        "stranger": stranger.cert_pem,
        "server_cert": server.cert_chain_pems[0],
        "server_key": server.private_key_pem,
        "client_cert": client.cert_chain_pems[0],
        "client_key": client.private_key_pem,
    }
    for name, blob in files.items():
        blob.write_to_path(str(folder / f"{name}.pem"))
    return {name: folder / f"{name}.pem" for name in files}


@pytest.fixture(scope="module")
def tls_server(pki) -> Iterator[LocalServer]:
    server = LocalServer(tls=ServerTls(pki["server_cert"], pki["server_key"]))
    yield from running(server)


def settings(server: LocalServer, **tls) -> LdapSettings:
    return LdapSettings(
        bind_dn=server.root_dn,
        bind_password=server.root_pw,
        base_dn=server.suffix,
        timeout=5,
        **tls,
    )


def reaches_base(ldap: LdapSettings) -> bool:
    with Directory.open(ldap) as directory:
        return directory.exists(ldap.base_dn)


def test_ldaps_with_the_test_ca_works(tls_server, pki):
    assert reaches_base(settings(tls_server, url=tls_server.ldaps_url, ca_file=pki["ca"]))


def test_start_tls_with_the_test_ca_works(tls_server, pki):
    assert reaches_base(settings(tls_server, url=tls_server.url, start_tls=True, ca_file=pki["ca"]))


@pytest.mark.parametrize("scheme", ["ldaps", "starttls"])
def test_a_certificate_from_an_unknown_ca_is_refused_with_a_clear_message(tls_server, pki, scheme):
    target = (
        {"url": tls_server.ldaps_url}
        if scheme == "ldaps"
        else {"url": tls_server.url, "start_tls": True}
    )
    for ca in ({}, {"ca_file": pki["stranger"]}):
        with pytest.raises(ConfigurationError) as caught:
            reaches_base(settings(tls_server, **target, **ca))
        message = str(caught.value)
        assert "certificate is refused" in message
        assert "CA that is not trusted" in message
        assert "PORTAL_SYNC_LDAP__CA_FILE" in message


def test_validation_can_be_switched_off_to_diagnose(tls_server, pki):
    ldap = settings(tls_server, url=tls_server.ldaps_url, ca_file=pki["stranger"], tls_verify=False)
    assert reaches_base(ldap)


def test_a_certificate_for_another_host_is_refused(pki, tmp_path):
    ca = trustme.CA()
    other = ca.issue_cert("ldap.elsewhere.example")
    other.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    other.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    with (
        LocalServer(tls=ServerTls(tmp_path / "cert.pem", tmp_path / "key.pem")) as server,
        pytest.raises(
            ConfigurationError,
            match=r"certificate names ldap\.elsewhere\.example, not 127\.0\.0\.1.*TLS_NAME",
        ),
    ):
        reaches_base(settings(server, url=server.ldaps_url, ca_file=tmp_path / "ca.pem"))


def test_the_expected_certificate_name_lets_a_validated_connection_through(tmp_path):
    ca = trustme.CA()
    other = ca.issue_cert("ldap.elsewhere.example")
    other.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    other.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    with LocalServer(tls=ServerTls(tmp_path / "cert.pem", tmp_path / "key.pem")) as server:
        ca_file = tmp_path / "ca.pem"
        named = settings(server, url=server.ldaps_url, ca_file=ca_file)
        assert reaches_base(named.model_copy(update={"tls_name": "ldap.elsewhere.example"}))
        wrong = named.model_copy(update={"tls_name": "ldap.other.example"})
        with pytest.raises(ConfigurationError, match=r"names ldap\.elsewhere\.example, not"):
            reaches_base(wrong)


def test_a_server_that_demands_a_client_certificate_accepts_ours(pki):
    demanding = ServerTls(pki["server_cert"], pki["server_key"], pki["ca"], "demand")
    with LocalServer(tls=demanding) as server:
        ldap = settings(server, url=server.ldaps_url, ca_file=pki["ca"])
        with pytest.raises((DirectoryUnavailable, BindFailed, ConfigurationError)):
            reaches_base(ldap)
        with_cert = ldap.model_copy(
            update={"client_cert_file": pki["client_cert"], "client_key_file": pki["client_key"]}
        )
        assert reaches_base(with_cert)


def test_a_client_certificate_without_its_key_is_a_settings_error(pki):
    with pytest.raises(ValueError, match="go together"):
        LdapSettings(client_cert_file=pki["client_cert"])
