"""389 Directory Server in prefix mode, run as the `dirsrv` user in the foreground.

`dscreate from-file` as root insists on systemd. A non-root user can instead
prepare a private root (`dscreate ds-root`), create an instance inside it
without starting it, and run `ns-slapd` in the foreground, where its PID is
ours to stop. The package's own `dirsrv` system user is that user. Two of the
prefix's templates need fixing on Debian: the library paths (`/usr/lib64`
there, the multiarch directory here) and the listen address (every address
unless `nsslapd-listenhost` is set). The same template edit turns on the
referential integrity and memberOf plugins, which ship disabled.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from ldap3 import BASE, NONE, Connection, Server
from ldap3.core.exceptions import LDAPException

from .process import ServerError, free_port, run, spawn, stop_group, wait_until

PLUGINS = ("MemberOf Plugin", "referential integrity postoperation")
"""The plugins turned on (both ship disabled).

memberOf keeps `memberOf` on each member of a group (`member`); referential
integrity rewrites `member`, `uniqueMember`, `owner` and `seeAlso` values when
their entry is renamed or deleted, at once (`referint-update-delay: 0`).
"""

_INF = """[general]
start = False
selinux = False
strict_host_checking = False
full_machine_name = localhost

[slapd]
instance_name = {instance}
port = {port}
root_password = {password}
self_sign_cert = False

[backend-userroot]
sample_entries = no
suffix = {suffix}
create_suffix_entry = True
"""


def _fix_templates(root: Path) -> None:
    """Point the prefix's library paths at Debian's, listen on loopback, enable the plugins."""
    system = Path("/usr/share/dirsrv/inf/defaults.inf").read_text(encoding="utf-8")
    defaults = root / "share" / "dirsrv" / "inf" / "defaults.inf"
    text = defaults.read_text(encoding="utf-8")
    for key in ("lib_dir", "plugin_dir"):
        found = re.search(rf"(?m)^{key} = .*$", system)
        if found is None:
            raise ServerError(f"/usr/share/dirsrv/inf/defaults.inf has no {key}")
        text = re.sub(rf"(?m)^{key} = .*$", found.group(0), text)
    defaults.write_text(text, encoding="utf-8")

    template = root / "share" / "dirsrv" / "data" / "template-dse.ldif"
    entries = template.read_text(encoding="utf-8").split("\n\n")
    entries[0] = entries[0].replace(
        "nsslapd-port: %ds_port%\n", "nsslapd-port: %ds_port%\nnsslapd-listenhost: 127.0.0.1\n"
    )
    for index, entry in enumerate(entries):
        if any(entry.startswith(f"dn: cn={name},cn=plugins,") for name in PLUGINS):
            entries[index] = entry.replace(
                "nsslapd-pluginenabled: off", "nsslapd-pluginenabled: on"
            )
    template.write_text("\n\n".join(entries), encoding="utf-8")


class DirectoryServer389:
    """One 389-DS instance on a free loopback port; create() once, then start()/halt()/stop()."""

    user = "dirsrv"
    instance = "portal-sync"

    def __init__(
        self, suffix: str = "dc=example,dc=org", root_password: str = "Directory-Manager-1"
    ) -> None:
        self.suffix = suffix
        self.root_dn = "cn=Directory Manager"
        self.root_password = root_password
        self.port = 0
        self._parent: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self.timings: dict[str, float] = {}

    @property
    def root(self) -> Path:
        """Return the private root the instance lives in (after `create`)."""
        if self._parent is None:
            raise ServerError("the 389-DS instance has not been created")
        return self._parent / "root"

    @property
    def config_dir(self) -> Path:
        """Return the instance's configuration directory (dse.ldif)."""
        return self.root / "etc" / "dirsrv" / f"slapd-{self.instance}"

    @property
    def error_log(self) -> Path:
        """Return the instance's error log."""
        return self.root / "var" / "log" / "dirsrv" / f"slapd-{self.instance}" / "errors"

    @property
    def url(self) -> str:
        """Return the ldap:// URL of the instance."""
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """Return the PID of the running ns-slapd."""
        if self._process is None:
            raise ServerError("389-DS is not running")
        return self._process.pid

    @property
    def running(self) -> bool:
        """Return whether ns-slapd runs."""
        return self._process is not None and self._process.poll() is None

    def _as_user(self) -> dict[str, Any]:
        """Return the subprocess arguments that run a command as the dirsrv user in the prefix."""
        return {
            "user": self.user,
            "group": self.user,
            "extra_groups": [],
            "cwd": self._parent,
            "env": {
                "PATH": f"{self.root}:/usr/sbin:/usr/bin:/sbin:/bin",
                "HOME": str(self._parent),
                "PREFIX": str(self.root),
                "INSTALL_PREFIX": str(self.root),
                "LANG": "C.UTF-8",
            },
        }

    def create(self) -> None:
        """Prepare the private root and create the instance in it, not started."""
        if os.geteuid() != 0:
            raise ServerError("389-DS here runs as the dirsrv user, which needs root to switch to")
        started = time.monotonic()
        self._parent = Path(tempfile.mkdtemp(prefix="portal-sync-389-"))
        atexit.register(self.stop)
        shutil.chown(self._parent, self.user, self.user)
        run(["dscreate", "ds-root", str(self.root)], what="dscreate ds-root", **self._as_user())
        _fix_templates(self.root)
        self.port = free_port()
        inf = self._parent / "instance.inf"
        inf.write_text(
            _INF.format(
                instance=self.instance,
                port=self.port,
                password=self.root_password,
                suffix=self.suffix,
            ),
            encoding="utf-8",
        )
        shutil.chown(inf, self.user, self.user)
        run(["dscreate", "from-file", str(inf)], what="dscreate from-file", **self._as_user())
        dse = (self.config_dir / "dse.ldif").read_text(encoding="utf-8")
        for name in PLUGINS:
            entry = dse.split(f"dn: cn={name},cn=plugins,cn=config\n", 1)[-1].split("\n\n", 1)[0]
            if "nsslapd-pluginEnabled: on" not in entry:
                raise ServerError(f"389-DS: the {name} is not enabled in {self.config_dir}")
        self.timings["create"] = time.monotonic() - started

    def start(self) -> None:
        """Run ns-slapd in the foreground; return once it answers a root DSE search."""
        if self.running:
            return
        self.halt()
        if self._parent is None:
            self.create()
        pid_file = self.root / "run" / "dirsrv" / f"slapd-{self.instance}.pid"
        pid_file.unlink(missing_ok=True)
        log = self.root.parent / "ns-slapd.out"
        started = time.monotonic()
        process = spawn(
            ["ns-slapd", "-D", str(self.config_dir), "-i", str(pid_file), "-d", "0"],
            log=log,
            **self._as_user(),
        )
        self._process = process
        try:
            wait_until(self._answers, process=process, what="389-DS ns-slapd", log=self.error_log)
        except BaseException:
            self.halt()
            raise
        self.timings.setdefault("start", time.monotonic() - started)

    def _answers(self) -> bool:
        """Return whether the root DSE can be read."""
        try:
            with Connection(Server(self.url, get_info=NONE, connect_timeout=2)) as conn:
                conn.search("", "(objectClass=*)", BASE, attributes=["namingContexts"])
        except LDAPException:
            return False
        return True

    def connection(self, user: str | None = None, password: str | None = None) -> Connection:
        """Return a connection bound as `user`, by default as Directory Manager."""
        if user is None:
            user, password = self.root_dn, self.root_password
        return Connection(
            Server(self.url, get_info=NONE, connect_timeout=5),
            user,
            password,
            auto_bind=True,
            raise_exceptions=True,
            receive_timeout=30,
        )

    def halt(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Stop ns-slapd (SIGKILL for a crash), keeping the instance for `start`."""
        if self._process is not None:
            stop_group(self._process, sig=sig)
            self._process = None

    def stop(self) -> None:
        """Stop ns-slapd and delete the instance."""
        self.halt()
        if self._parent is not None:
            shutil.rmtree(self._parent, ignore_errors=True)
            self._parent = None
        atexit.unregister(self.stop)
