"""What a failed TLS connection says: what happened, and an exit code that tells the truth."""

from __future__ import annotations

import datetime
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import documents
import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from ldap3 import NONE, SUBTREE, Connection, Server

from sync.errors import ConfigurationError, DirectoryUnavailable
from sync.ldap.directory import Directory
from sync.ldap.localserver import LocalServer, ServerTls
from sync.settings import LdapSettings

from servers.process import free_port, spawn, stop_group, wait_until

pytestmark = pytest.mark.slapd


def settings(server: LocalServer, **options) -> LdapSettings:
    return LdapSettings(
        bind_dn=server.root_dn,
        bind_password=server.root_pw,
        base_dn=server.suffix,
        timeout=5,
        **options,
    )


def open_base(ldap: LdapSettings) -> bool:
    with Directory.open(ldap) as directory:
        return directory.exists(ldap.base_dn)


def write_leaf(folder: Path, leaf: trustme.LeafCert) -> ServerTls:
    leaf.cert_chain_pems[0].write_to_path(str(folder / "cert.pem"))
    leaf.private_key_pem.write_to_path(str(folder / "key.pem"))
    return ServerTls(folder / "cert.pem", folder / "key.pem")


def test_an_expired_certificate_is_called_expired_not_an_unknown_ca(tmp_path):
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    expired = ca.issue_cert(
        "127.0.0.1",
        not_before=datetime.datetime(2019, 1, 1),
        not_after=datetime.datetime(2020, 1, 1),
    )
    with LocalServer(tls=write_leaf(tmp_path, expired)) as server:
        for target in ({"url": server.ldaps_url}, {"url": server.url, "start_tls": True}):
            with pytest.raises(ConfigurationError) as caught:
                open_base(settings(server, ca_file=tmp_path / "ca.pem", **target))
            message = str(caught.value)
            assert "certificate has expired" in message
            assert "not trusted" not in message
            assert "refused: certificate has expired (the clock" in message
            assert "renew" in message


def _named_ca_and_leaf(folder: Path, *names: str) -> tuple[Path, ServerTls]:
    """Return a CA whose own name is a common name, and a leaf for `names` that it signed."""
    start = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    end = datetime.datetime(2100, 1, 1, tzinfo=datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Example Issuing CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(issuer)
        .issuer_name(issuer)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name) for name in names]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "cert.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return folder / "ca.pem", ServerTls(folder / "cert.pem", folder / "key.pem")


def test_a_certificate_for_another_host_lists_only_the_names_it_holds(tmp_path):
    ca_file, tls = _named_ca_and_leaf(tmp_path, "ldap.elsewhere.example", "ldap2.elsewhere.example")
    with LocalServer(tls=tls) as server, pytest.raises(ConfigurationError) as caught:
        open_base(settings(server, url=server.ldaps_url, ca_file=ca_file))
    message = str(caught.value)
    assert "names ldap.elsewhere.example, ldap2.elsewhere.example, not 127.0.0.1" in message
    assert "Example Issuing CA" not in message
    assert "PORTAL_SYNC_LDAP__TLS_NAME" in message


def test_start_tls_to_a_server_without_it_says_so_and_names_the_setting(tmp_path):
    with LocalServer() as server, pytest.raises(ConfigurationError) as caught:
        open_base(settings(server, url=server.url, start_tls=True))
    message = str(caught.value)
    assert "does not offer StartTLS" in message
    assert "PORTAL_SYNC_LDAP__START_TLS" in message
    assert "PORTAL_SYNC_LDAP__URL" in message


@pytest.fixture
def closing_port() -> Iterator[int]:
    """Yield a port that accepts connections and closes each at once, saying nothing."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    listener.close()
    thread.join(10)


def test_a_port_that_drops_the_tls_handshake_and_speaks_no_ldap_is_unavailable(closing_port):
    ldap = LdapSettings(
        url=f"ldaps://127.0.0.1:{closing_port}", bind_dn="cn=x", bind_password="y", timeout=5
    )
    with pytest.raises(DirectoryUnavailable) as caught:
        open_base(ldap)
    message = str(caught.value)
    assert "did not speak TLS" not in message
    assert "closed the connection during the TLS handshake" in message


def test_ldaps_to_a_plain_ldap_port_still_says_the_server_does_not_speak_tls():
    with LocalServer() as server:
        url = server.url.replace("ldap://", "ldaps://")
        with pytest.raises(ConfigurationError, match="did not speak TLS"):
            open_base(settings(server, url=url))


@pytest.fixture(scope="module")
def ca_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    write_leaf(folder, ca.issue_cert("127.0.0.1"))
    return folder


def count_users(server: LocalServer) -> int:
    connection = Connection(
        Server(server.url, get_info=NONE), server.root_dn, server.root_pw, auto_bind=True
    )
    with connection:
        connection.search(server.suffix, "(uid=user-*)", SUBTREE, attributes=["1.1"], size_limit=0)
        return len(connection.entries)


def test_a_tls_directory_killed_mid_run_behind_a_proxy_exits_unavailable(ca_folder, tmp_path):
    """The proxy (socat, as a load balancer would) still accepts once slapd is gone."""
    tls = ServerTls(ca_folder / "cert.pem", ca_folder / "key.pem")
    with LocalServer(tls=tls) as server:
        port = free_port()
        log = tmp_path / "socat.log"
        proxy = spawn(
            [
                "socat",
                "-d",
                "-d",
                f"TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr",
                f"TCP:127.0.0.1:{server.ldaps_port}",
            ],
            log=log,
        )
        try:
            wait_until(
                lambda: "listening on" in log.read_text(errors="replace"),
                process=proxy,
                what="socat proxy",
                log=log,
            )
            source = tmp_path / "source.json"
            source.write_text(json.dumps(documents.big_document(100, 20)), encoding="utf-8")
            environment = {
                **{k: v for k, v in os.environ.items() if not k.startswith("PORTAL_SYNC_")},
                "PORTAL_SYNC_LDAP__URL": f"ldaps://127.0.0.1:{port}",
                "PORTAL_SYNC_LDAP__CA_FILE": str(ca_folder / "ca.pem"),
                "PORTAL_SYNC_LDAP__BIND_DN": server.root_dn,
                "PORTAL_SYNC_LDAP__BIND_PASSWORD": server.root_pw,
                "PORTAL_SYNC_LDAP__BASE_DN": server.suffix,
                "PORTAL_SYNC_LDAP__TIMEOUT": "3",
                "PORTAL_SYNC_SOURCE__PATH": str(source),
                "PORTAL_SYNC_STATE_DIR": str(tmp_path / "state"),
                "PORTAL_SYNC_SAFETY__MAX_DELETIONS": "100000",
            }
            run = subprocess.Popen(
                [sys.executable, "-m", "sync", "run"],
                env=environment,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=tmp_path,
            )
            wait_until(
                lambda: count_users(server) >= 200,
                process=run,
                what="the run's first 200 users",
                timeout=120,
            )
            server._proc.send_signal(signal.SIGKILL)
            server._proc.wait()
            stdout, stderr = run.communicate(timeout=120)
        finally:
            stop_group(proxy)
    assert run.returncode == 3, stdout + stderr
    assert "unavailable" in stdout + stderr
    assert "did not speak TLS" not in stdout + stderr
