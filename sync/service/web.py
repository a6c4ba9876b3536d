"""The daemon's small HTTP server: POST /sync, GET /healthz, GET /metrics.

The standard library's threading server is enough for three endpoints read
by a monitoring system and an occasional person; it listens on loopback
unless told otherwise.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sync.service.health import Health

log = logging.getLogger("portal_sync.http")


@dataclass(frozen=True)
class Endpoints:
    """What the HTTP server answers with, supplied by the daemon."""

    health: Callable[[], Health]
    metrics: Callable[[], tuple[bytes, str]]
    trigger: Callable[[str], None]
    token: str


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "portal-sync"

    def do_GET(self) -> None:
        endpoints = self.server.endpoints
        if self.path == "/healthz":
            health = endpoints.health()
            self._json(health.status, health.to_dict())
        elif self.path == "/metrics":
            body, content_type = endpoints.metrics()
            self._send(200, body, content_type)
        else:
            self._json(404, {"error": "not found; try /healthz, /metrics or POST /sync"})

    def do_POST(self) -> None:
        endpoints = self.server.endpoints
        if self.path != "/sync":
            self._json(404, {"error": "not found; try POST /sync"})
            return
        if not endpoints.token:
            self._json(403, {"error": "POST /sync is off: no http.token is configured"})
            return
        given = self.headers.get("Authorization", "")
        expected = f"Bearer {endpoints.token}"
        if not hmac.compare_digest(given.encode(), expected.encode()):
            log.warning("refused POST /sync from %s: missing or wrong token", self.address_string())
            self._json(
                401,
                {"error": "a valid bearer token is required"},
                {"WWW-Authenticate": 'Bearer realm="portal-sync"'},
            )
            return
        endpoints.trigger("POST /sync")
        self._json(202, {"accepted": True, "detail": "a run starts now or right after this one"})

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        body = (json.dumps(data, ensure_ascii=False) + "\n").encode("utf-8")
        self._send(status, body, "application/json", headers)

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], endpoints: Endpoints) -> None:
        self.endpoints = endpoints
        super().__init__(address, _Handler)


class WebServer:
    """The HTTP server, serving from a thread of its own."""

    def __init__(self, host: str, port: int, endpoints: Endpoints) -> None:
        self._server = _Server((host, port), endpoints)
        self._thread = threading.Thread(target=self._server.serve_forever, name="http", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        """Return the (host, port) the server listens on."""
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        """Start answering requests."""
        self._thread.start()

    def stop(self) -> None:
        """Stop answering and close the socket."""
        self._server.shutdown()
        self._server.server_close()
