"""Samba 4 as an Active Directory domain controller, in a network namespace of its own.

Samba listens only on 389/636, so each domain controller runs inside its
own network namespace (`unshare --net`) and the host reaches it through two
loopback bridges (LDAPS and plain LDAP) on free ports. Provisioning takes
seconds, so one `SambaTemplate` is provisioned and started once (the first
start makes Samba's TLS key and certificate) per session, and every
`SambaDC` starts from a copy of it: same domain, same CA, own data.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ldap3 import BASE, NONE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException

from .bridge import LoopbackBridge
from .process import ServerError, netns_of, run, spawn, stop_group, wait_until


@dataclass(frozen=True)
class SambaDomain:
    """The domain every test domain controller serves, and its administrator."""

    realm: str = "TEST.EXAMPLE.COM"
    workgroup: str = "TEST"
    host_name: str = "dc1"
    admin_password: str = "Portal-Sync-Admin-1"

    @property
    def dns_domain(self) -> str:
        """Return the DNS domain (`test.example.com`), also the UPN suffix."""
        return self.realm.lower()

    @property
    def base_dn(self) -> str:
        """Return the domain's naming context (`DC=test,DC=example,DC=com`)."""
        return ",".join(f"DC={part}" for part in self.dns_domain.split("."))

    @property
    def admin_dn(self) -> str:
        """Return the DN of the domain's Administrator."""
        return f"CN=Administrator,CN=Users,{self.base_dn}"

    @property
    def tls_name(self) -> str:
        """Return the host name Samba's certificate holds (its CN; there is no SAN)."""
        return f"{self.host_name.upper()}.{self.dns_domain}"


def _configure(smb_conf: Path, directory: Path) -> None:
    """Trim the provisioned smb.conf to an LDAP-only DC that writes only inside `directory`."""
    text = smb_conf.read_text(encoding="utf-8")
    head, shares = text.split("[global]\n", 1)
    text = head + "[global]\n" + shares.split("\n[", 1)[0] + "\n"
    text = re.sub(r"(?m)^\tserver services = .*$", "\tserver services = ldap", text)
    run_dir = directory / "run"
    text = re.sub(
        r"(?m)^\tlog file = .*$",
        f"\tlog file = {directory}/log.%m\n"
        f"\tpid directory = {run_dir}\n"
        f"\tncalrpc dir = {run_dir}/ncalrpc\n"
        f"\twinbindd socket directory = {run_dir}/winbindd",
        text,
    )
    smb_conf.write_text(text, encoding="utf-8")
    run_dir.mkdir(exist_ok=True)


class SambaTemplate:
    """A provisioned domain, started once, to copy for each domain controller."""

    def __init__(self, domain: SambaDomain | None = None) -> None:
        self.domain = domain or SambaDomain()
        self._parent: Path | None = None
        self.timings: dict[str, float] = {}

    @property
    def directory(self) -> Path:
        """Return the provisioned directory (after `create`)."""
        if self._parent is None:
            raise ServerError("the Samba template has not been created")
        return self._parent / "domain"

    @property
    def ca_file(self) -> Path:
        """Return the CA certificate that signed the certificate of every copy."""
        return self.directory / "private" / "tls" / "ca.pem"

    def create(self) -> None:
        """Provision the domain, then start it once so that Samba makes its TLS files."""
        if os.geteuid() != 0:
            raise ServerError("Samba AD needs root here (samba-tool, a network namespace)")
        self._parent = Path(tempfile.mkdtemp(prefix="portal-sync-samba-template-"))
        atexit.register(self.remove)
        started = time.monotonic()
        domain = self.domain
        run(
            [
                "samba-tool",
                "domain",
                "provision",
                f"--targetdir={self.directory}",
                "--use-rfc2307",
                f"--realm={domain.realm}",
                f"--domain={domain.workgroup}",
                f"--adminpass={domain.admin_password}",
                "--server-role=dc",
                "--dns-backend=NONE",
                f"--host-name={domain.host_name}",
                "--option=interfaces = lo",
                "--option=bind interfaces only = yes",
                "--option=ldb:nosync = true",
            ],
            what="samba-tool domain provision",
        )
        _configure(self.directory / "etc" / "smb.conf", self.directory)
        self.timings["provision"] = time.monotonic() - started
        started = time.monotonic()
        first = SambaDC(self, directory=self.directory)
        first.start()
        first.halt()
        for leftover in self.directory.rglob("*"):
            if leftover.is_socket() or leftover.name == "samba.pid":
                leftover.unlink()
        self.timings["first start"] = time.monotonic() - started

    def remove(self) -> None:
        """Delete the template's files."""
        if self._parent is not None:
            shutil.rmtree(self._parent, ignore_errors=True)
            self._parent = None
        atexit.unregister(self.remove)


class SambaDC:
    """One Samba AD domain controller, reached through loopback bridges; start()/stop()."""

    def __init__(self, template: SambaTemplate, *, directory: Path | None = None) -> None:
        self.template = template
        self.domain = template.domain
        self._own_directory = directory is None
        self._directory = directory
        self._process: subprocess.Popen[bytes] | None = None
        self.netns: str | None = None
        self._ldaps: LoopbackBridge | None = None
        self._ldap: LoopbackBridge | None = None

    @property
    def directory(self) -> Path:
        """Return this domain controller's data directory (after `start`)."""
        if self._directory is None:
            raise ServerError("this Samba DC has not been started")
        return self._directory

    @property
    def pid(self) -> int:
        """Return the PID of the running samba process."""
        if self._process is None:
            raise ServerError("this Samba DC is not running")
        return self._process.pid

    @property
    def running(self) -> bool:
        """Return whether samba runs."""
        return self._process is not None and self._process.poll() is None

    @property
    def ca_file(self) -> Path:
        """Return the CA file that validates this DC's certificate."""
        return self.directory / "private" / "tls" / "ca.pem"

    @property
    def ldaps_port(self) -> int:
        """Return the host port of the LDAPS bridge."""
        if self._ldaps is None or self._ldaps.port is None:
            raise ServerError("this Samba DC has not been started")
        return self._ldaps.port

    @property
    def ldap_port(self) -> int:
        """Return the host port of the plain LDAP bridge (StartTLS or refusals)."""
        if self._ldap is None or self._ldap.port is None:
            raise ServerError("this Samba DC has not been started")
        return self._ldap.port

    @property
    def ldaps_url(self) -> str:
        """Return the LDAPS URL on the host."""
        return f"ldaps://127.0.0.1:{self.ldaps_port}"

    @property
    def ldap_url(self) -> str:
        """Return the plain LDAP URL on the host."""
        return f"ldap://127.0.0.1:{self.ldap_port}"

    @property
    def base_dn(self) -> str:
        """Return the domain's base DN."""
        return self.domain.base_dn

    @property
    def admin_dn(self) -> str:
        """Return the Administrator's DN."""
        return self.domain.admin_dn

    @property
    def admin_password(self) -> str:
        """Return the Administrator's password."""
        return self.domain.admin_password

    @property
    def tls_name(self) -> str:
        """Return the name the certificate holds (`DC1.test.example.com`), not 127.0.0.1."""
        return self.domain.tls_name

    def tls(self) -> Tls:
        """Return ldap3 TLS settings that validate the certificate against the expected name."""
        return Tls(
            validate=ssl.CERT_REQUIRED,
            ca_certs_file=str(self.ca_file),
            valid_names=[self.tls_name],
        )

    def server(self, *, ldaps: bool = True, connect_timeout: int = 5) -> Server:
        """Return an ldap3 Server for LDAPS (default) or plain LDAP, TLS set up for StartTLS."""
        return Server(
            self.ldaps_url if ldaps else self.ldap_url,
            use_ssl=ldaps,
            tls=self.tls(),
            get_info=NONE,
            connect_timeout=connect_timeout,
        )

    def connection(self, user: str | None = None, password: str | None = None) -> Connection:
        """Return a connection over LDAPS bound as `user` (DN or UPN), by default Administrator."""
        if user is None:
            user, password = self.admin_dn, self.admin_password
        return Connection(
            self.server(), user, password, auto_bind=True, raise_exceptions=True, receive_timeout=30
        )

    def start(self) -> None:
        """Start samba in a new network namespace and its bridges; return once LDAPS answers.

        The first call copies the template; a later call after `halt` starts on
        the same data and the same host ports.
        """
        if self.running:
            return
        self.halt()
        if self._directory is None:
            parent = Path(tempfile.mkdtemp(prefix="portal-sync-samba-"))
            self._directory = parent / "domain"
            atexit.register(self.stop)
            shutil.copytree(self.template.directory, self._directory, symlinks=True)
            conf = self._directory / "etc" / "smb.conf"
            text = conf.read_text(encoding="utf-8")
            conf.write_text(
                text.replace(str(self.template.directory), str(self._directory)), encoding="utf-8"
            )
        directory = self.directory
        log = directory / "samba.out"
        own_netns = netns_of(os.getpid())
        process = spawn(
            [
                "unshare",
                "--net",
                "--",
                "sh",
                "-c",
                'ip link set lo up && exec samba -i -M single -s "$0"',
                str(directory / "etc" / "smb.conf"),
            ],
            log=log,
        )
        self._process = process
        try:
            wait_until(
                lambda: netns_of(process.pid) != own_netns,
                process=process,
                what="samba's network namespace",
                log=log,
                timeout=10,
                interval=0.005,
            )
            self.netns = netns_of(process.pid)
            self._ldaps = LoopbackBridge(
                process.pid, 636, directory / "bridge-ldaps.log", self._ldaps and self._ldaps.port
            )
            self._ldap = LoopbackBridge(
                process.pid, 389, directory / "bridge-ldap.log", self._ldap and self._ldap.port
            )
            self._ldaps.start()
            self._ldap.start()
            wait_until(
                self._answers,
                process=process,
                what=f"samba in {directory}",
                log=log,
                timeout=90,
                interval=0.1,
            )
        except BaseException:
            self.halt()
            raise

    def _answers(self) -> bool:
        """Return whether the root DSE can be read over LDAPS and over plain LDAP."""
        if not self.ca_file.exists():
            return False
        try:
            for ldaps in (True, False):
                with Connection(self.server(ldaps=ldaps, connect_timeout=2)) as conn:
                    conn.search("", "(objectClass=*)", BASE, attributes=["defaultNamingContext"])
        except LDAPException:
            return False
        return True

    def halt(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Stop the bridges and samba (SIGKILL for a crash), keeping the data for `start`."""
        for bridge in (self._ldaps, self._ldap):
            if bridge is not None:
                bridge.stop()
        if self._process is not None:
            stop_group(self._process, sig=sig)
            self._process = None
            pid_file = self.directory / "run" / "samba.pid"
            pid_file.unlink(missing_ok=True)

    def stop(self) -> None:
        """Stop samba and its bridges and delete this DC's files."""
        self.halt()
        if self._own_directory and self._directory is not None:
            shutil.rmtree(self._directory.parent, ignore_errors=True)
            self._directory = None
        atexit.unregister(self.stop)
