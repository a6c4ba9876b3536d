"""Run `portal-sync daemon` as an administrator would: a process configured by its environment."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from prometheus_client.parser import text_string_to_metric_families

from sync.ldap.localserver import LocalServer

from directory_view import ldapi_search

T = TypeVar("T")

TOKEN = "test-token-7c1f"


def free_port() -> int:
    """Return a TCP port that is free on loopback right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(check: Callable[[], T], what: str, timeout: float = 15.0) -> T:
    """Return the first true value of `check()`, polling until `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def environment(server: LocalServer, source: Path, state: Path, **settings: Any) -> dict[str, str]:
    """Return a process environment with portal-sync settings for `server` and `source`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_SYNC_")}
    values = {
        "LDAP__URL": server.url,
        "LDAP__BIND_DN": server.root_dn,
        "LDAP__BIND_PASSWORD": server.root_pw,
        "LDAP__BASE_DN": server.suffix,
        "LDAP__TIMEOUT": "2",
        "SOURCE__PATH": str(source),
        "STATE_DIR": str(state),
        **{key.upper(): str(value) for key, value in settings.items()},
    }
    env.update({f"PORTAL_SYNC_{key}": value for key, value in values.items()})
    return env


def write_source(path: Path, document: dict[str, Any]) -> None:
    """Write the source document as the workflow system's export would."""
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")


def add_person(document: dict[str, Any], login: str, customer: int = 0) -> None:
    """Add a contact person with a portal account to one customer of `document`."""
    document["customers"][customer]["persons"].append(
        {
            "id": f"P-{login}",
            "first_name": "New",
            "last_name": login.title(),
            "contact_types": [document["customers"][customer]["contact_types"][-1]["id"]],
            "account": {"login": login, "enabled": True},
        }
    )


def uids(server: LocalServer) -> set[str]:
    """Return every uid in the server's tree."""
    found = ldapi_search(server, "(uid=*)", "uid")
    return {line[5:] for line in found.splitlines() if line.startswith("uid: ")}


def lock_is_held(path: Path) -> bool:
    """Return whether some process holds the flock on `path` now."""
    if not path.exists():
        return False
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def pause(server: LocalServer) -> None:
    """Stop slapd and keep its data and port."""
    server._proc.terminate()
    server.wait()


def resume(server: LocalServer) -> None:
    """Start slapd again on the same data and port."""
    server._start_slapd()


class Daemon:
    """`python -m sync daemon` in a subprocess, with its HTTP port and log."""

    def __init__(self, env: dict[str, str], workdir: Path, name: str = "daemon") -> None:
        self.port = free_port()
        self.env = {**env, "PORTAL_SYNC_HTTP__PORT": str(self.port)}
        if "CREDENTIALS_DIRECTORY" not in env:
            self.env.setdefault("PORTAL_SYNC_HTTP__TOKEN", TOKEN)
        self.log_path = workdir / f"{name}.log"
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Daemon:
        """Start the daemon and wait until its HTTP server answers."""
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "sync", "daemon"],
                env=self.env,
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(lambda: self.alive and self.answers(), f"the daemon on port {self.port}")
        return self

    def __enter__(self) -> Daemon:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    @property
    def alive(self) -> bool:
        """Return whether the process still runs."""
        return self.process is not None and self.process.poll() is None

    @property
    def log(self) -> str:
        """Return what the daemon logged so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def answers(self) -> bool:
        """Return whether the HTTP server accepts connections."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def request(
        self, method: str, path: str, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """Return status, headers and body of one HTTP request to the daemon."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", method=method, headers=headers or {}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, dict(answer.headers), answer.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def health(self) -> tuple[int, dict[str, Any]]:
        """Return the status and JSON body of /healthz."""
        status, _, body = self.request("GET", "/healthz")
        return status, json.loads(body)

    def healthy(self) -> bool:
        """Return whether /healthz answers 200."""
        return self.health()[0] == 200

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Return every sample of /metrics by (name, sorted labels)."""
        _, _, body = self.request("GET", "/metrics")
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(body.decode("utf-8"))
            for sample in family.samples
        }

    def runs(self, outcome: str = "success", target: str = "ldap") -> float:
        """Return how many runs of `target` ended with `outcome`."""
        labels = (("outcome", outcome), ("target", target))
        return self.metrics()[("portal_sync_runs_total", labels)]

    def signal(self, number: int = signal.SIGTERM) -> int:
        """Send `number` and return the exit code, waiting at most 20 s."""
        assert self.process is not None
        self.process.send_signal(number)
        return self.process.wait(timeout=20)
