"""The real SCIM 2.0 provider the SCIM target's tests run against, and a proxy in front of it.

`ScimServer` runs `scim2-server` (the python-scim reference server, from
PyPI) as a process of its own on a free loopback port, with dynamic
tenants: every test gets a fresh, empty tenant under its own path. It is
stopped by its process group, never by name.

`ScimProxy` is a small real HTTP server in this process that forwards to
one tenant and records every request that reached it, so tests assert
what went over the wire. It can answer 429 with Retry-After once, and can
"crash": forward one request, drop its answer, and refuse every later
connection until it is revived.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from .process import free_port, port_is_open, spawn, stop_group, wait_until


class ScimServer:
    """One scim2-server process with dynamic tenants."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: Any = None
        self.log = folder / "scim2-server.log"

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        command = [
            str(Path(sys.executable).parent / "scim2-server"),
            "--hostname",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dynamic-tenants",
        ]
        self.process = spawn(command, log=self.log)
        wait_until(
            lambda: port_is_open(self.port),
            process=self.process,
            what="scim2-server",
            log=self.log,
        )

    def stop(self) -> None:
        """Stop the server by its process group."""
        if self.process is not None and self.process.poll() is None:
            stop_group(self.process)
        self.process = None

    def tenant(self) -> str:
        """Return the SCIM base URL of a new, empty tenant."""
        return f"http://127.0.0.1:{self.port}/t{uuid.uuid4().hex[:12]}/v2"


@dataclass(frozen=True)
class Seen:
    """One request that reached the proxy."""

    method: str
    path: str
    query: str
    body: Any
    at: float
    """When the request arrived (time.monotonic)."""
    status: int

    @property
    def is_write(self) -> bool:
        """Return whether the request changes something on the provider."""
        return self.method in ("POST", "PUT", "PATCH", "DELETE")


class ScimProxy:
    """A recording HTTP proxy in front of one tenant of a `ScimServer`."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.seen: list[Seen] = []
        self.busy_once: tuple[str, str, str] | None = None
        """(method, path prefix, Retry-After): answer 429 to the first such request."""
        self.refuse_once: tuple[str, str, int, dict[str, Any]] | None = None
        """(method, path prefix, status, SCIM error): answer it to the first such request."""
        self.crash_after_writes: int | None = None
        """Forward this many writes, drop the last one's answer, then refuse connections."""
        self.crashed = False
        self.token = ""
        """When set, answer 401 to requests without this bearer token."""
        self.expire_after: int | None = None
        """Let the token in force pass this many more requests, then refuse it (expired)."""
        self.issued = 0
        """Tokens handed out by /token (the OAuth2 client-credentials grant)."""
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=30)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """Return the base URL the client is given."""
        return f"http://127.0.0.1:{self.port}/v2"

    def writes(self) -> list[Seen]:
        """Return the writes that reached the proxy (the answered and the dropped)."""
        return [seen for seen in self.seen if seen.is_write]

    def revive(self) -> None:
        """Accept and forward requests again after a crash."""
        self.crashed = False
        self.crash_after_writes = None

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()
        self._client.close()

    def upstream_get(self, path: str, **params: str) -> Any:
        """Return a JSON answer of the upstream tenant itself (not recorded)."""
        return self._client.get(f"{self.upstream}/{path}", params=params).json()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _any(self) -> None:
                arrived = time.monotonic()
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                path, _, query = self.path.partition("?")
                body = json.loads(raw) if raw and path != "/token" else None
                if proxy.crashed:
                    self.close_connection = True
                    self.connection.close()
                    return
                if path == "/token":
                    proxy.issued += 1
                    proxy.token = f"token-{proxy.issued}"
                    proxy._record(arrived, self.command, path, query, raw.decode(), 200)
                    answer = {"access_token": proxy.token, "token_type": "Bearer"}
                    self._reply(200, json.dumps(answer).encode(), {})
                    return
                if proxy.expire_after is not None and path != "/token":
                    proxy.expire_after -= 1
                    if proxy.expire_after < 0:
                        proxy.expire_after = None
                        proxy.token = "expired"
                if proxy.token and self.headers.get("Authorization") != f"Bearer {proxy.token}":
                    proxy._record(arrived, self.command, path, query, body, 401)
                    self._reply(401, b'{"detail": "unauthorized", "status": "401"}', {})
                    return
                refuse = proxy.refuse_once
                if refuse and self.command == refuse[0] and path.startswith(refuse[1]):
                    proxy.refuse_once = None
                    proxy._record(arrived, self.command, path, query, body, refuse[2])
                    self._reply(refuse[2], json.dumps(refuse[3]).encode(), {})
                    return
                busy = proxy.busy_once
                if busy and self.command == busy[0] and path.startswith(busy[1]):
                    proxy.busy_once = None
                    proxy._record(arrived, self.command, path, query, body, 429)
                    self._reply(429, b'{"detail": "slow down"}', {"Retry-After": busy[2]})
                    return
                target = proxy.upstream + path.removeprefix("/v2")
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() in ("content-type", "accept", "authorization")
                }
                answer = proxy._client.request(
                    self.command,
                    target + (f"?{query}" if query else ""),
                    content=raw,
                    headers=headers,
                )
                proxy._record(arrived, self.command, path, query, body, answer.status_code)
                if self.command != "GET" and proxy.crash_after_writes is not None:
                    proxy.crash_after_writes -= 1
                    if proxy.crash_after_writes <= 0:
                        proxy.crashed = True
                        self.close_connection = True
                        self.connection.close()
                        return
                self._reply(answer.status_code, answer.content, {})

            def _reply(self, status: int, content: bytes, extra: dict[str, str]) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/scim+json")
                self.send_header("Content-Length", str(len(content)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _any

        return Handler

    def _record(
        self, at: float, method: str, path: str, query: str, body: Any, status: int
    ) -> None:
        with self._lock:
            self.seen.append(Seen(method, path, query, body, at, status))
