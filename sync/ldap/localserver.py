"""A throwaway OpenLDAP slapd on a free loopback port, for the demo, tests and benchmarks.

Built on the `slapd` package (python-ldap's test server controller), with
the settings that the measured traps of slapd call for: a large
mdb map (the 10 MiB default fills at ~7,000 entries), no fsync unless asked,
the cosine and inetorgperson schemas, and slapd kept in the foreground so
its PID is the real one.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import slapd

_TEMPLATE = r"""dn: cn=config
objectClass: olcGlobal
cn: config
olcServerID: %(serverid)s
olcLogLevel: none
olcAuthzRegexp: {0}"gidnumber=%(root_gid)s\+uidnumber=%(root_uid)s,cn=peercred,cn=external,cn=auth" "%(rootdn)s"
%(global_extra)s
dn: cn=module,cn=config
objectClass: olcModuleList
cn: module
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_%(database)s
%(modules_extra)s
dn: olcDatabase=config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: config
olcRootDN: %(rootdn)s

dn: olcDatabase=%(database)s,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: %(database)s
olcSuffix: %(suffix)s
olcRootDN: %(rootdn)s
olcRootPW: %(rootpw)s
olcDbDirectory: %(directory)s
olcDbMaxSize: 4294967296
olcDbNoSync: %(nosync)s
"""

_INDEXES = """dn: olcDatabase={1}mdb,cn=config
changetype: modify
add: olcDbIndex
olcDbIndex: objectClass eq
olcDbIndex: uid eq
olcDbIndex: member eq
olcDbIndex: businessCategory eq,sub
"""


@dataclass(frozen=True)
class ServerTls:
    """The server's TLS files; with `ca_file` and `verify_client` it checks client certificates."""

    cert_file: Path
    key_file: Path
    ca_file: Path | None = None
    verify_client: str = "never"

    def config(self) -> str:
        """Return the cn=config global attributes that set TLS up."""
        lines = [
            f"olcTLSCertificateFile: {self.cert_file}",
            f"olcTLSCertificateKeyFile: {self.key_file}",
            f"olcTLSVerifyClient: {self.verify_client}",
        ]
        if self.ca_file is not None:
            lines.append(f"olcTLSCACertificateFile: {self.ca_file}")
        return "\n".join(lines) + "\n"


class LocalServer(slapd.Slapd):  # type: ignore[misc]
    """A slapd of our own in a temporary directory; use as a context manager."""

    ldap_uri: str

    def __init__(
        self,
        suffix: str = "dc=example,dc=org",
        *,
        fsync: bool = False,
        root_password: str = "admin-secret",
        global_extra: str = "",
        modules_extra: str = "",
        config_changes: tuple[str, ...] = (),
        tls: ServerTls | None = None,
        **kwargs: Any,
    ) -> None:
        self._parent = Path(tempfile.mkdtemp(prefix="portal-sync-slapd-"))
        self.tls = tls
        self._extra = {
            "nosync": "FALSE" if fsync else "TRUE",
            "global_extra": global_extra + (tls.config() if tls else ""),
            "modules_extra": modules_extra,
        }
        self._config_changes = (_INDEXES, *config_changes)
        kwargs.setdefault("log_level", logging.ERROR)
        super().__init__(
            suffix=suffix,
            root_cn="admin",
            root_pw=root_password,
            schemas=("core.ldif", "cosine.ldif", "inetorgperson.ldif"),
            configuration_template=_TEMPLATE,
            **kwargs,
        )
        self.testrundir = str(self._parent / "run")
        self._slapd_conf = str(self._parent / "run" / "slapd.d")
        self._db_directory = str(self._parent / "run" / "openldap-data")
        self.ldapi_uri = (
            f"ldapi://{(self._parent / 'run' / 'ldapi').as_posix().replace('/', '%2F')}"
        )
        self.default_ldap_uri = self.ldapi_uri
        self.ldaps_port = self._avail_tcpport() if tls else None

    @property
    def ldaps_url(self) -> str:
        """Return the ldaps:// URL of the server (only with `tls`)."""
        if self.ldaps_port is None:
            raise RuntimeError("this LocalServer was started without tls")
        return f"ldaps://{self.host}:{self.ldaps_port}"

    def _start_slapd(self) -> None:
        """Start slapd, listening on ldaps:// too when TLS is configured."""
        if self.ldaps_port is None:
            super()._start_slapd()
            return
        plain = self.ldap_uri
        self.ldap_uri = f"{plain} {self.ldaps_url}/"
        try:
            super()._start_slapd()
        finally:
            self.ldap_uri = plain

    @property
    def url(self) -> str:
        """Return the ldap:// URL of the server."""
        return f"ldap://{self.host}:{self.port}"

    def _gen_config(self) -> str:
        values = {
            "serverid": hex(self.server_id),
            "database": self.database,
            "directory": self._db_directory,
            "suffix": self.suffix,
            "rootdn": self.root_dn,
            "rootpw": self.root_pw,
            "root_uid": os.getuid(),
            "root_gid": os.getgid(),
            **self._extra,
        }
        return str(self.configuration_template % values)

    def start(self) -> None:
        """Start slapd, wait until it answers, apply config changes, create the base entry.

        Changes that name schema attributes (indexes, ACLs, limits) go through
        ldapmodify once slapd runs: the schemas load after the initial config.
        """
        super().start()
        for change in self._config_changes:
            self.ldapmodify(change)
        self.init_tree()

    def stop(self) -> None:
        """Stop slapd and remove its files."""
        super().stop()
        shutil.rmtree(self._parent, ignore_errors=True)
