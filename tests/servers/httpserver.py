"""An HTTP(S) server the tests control: documents, auth, faults and a log of what clients sent.

It is the standard library's ThreadingHTTPServer on a loopback port the
kernel picks, run in a thread of the test process: real sockets, real HTTP
framing, no mocked transport. A test publishes documents (each gets an ETag
and a Last-Modified, and a matching conditional request gets 304), may
require a bearer token or basic auth, and switches a fault on for every
request or the next few: an error status, a delay before the headers, a slow
body, a body cut short, a body that is not JSON, or a connection closed with
no answer. Every request is recorded (method, path, headers, body).

With `tls=True` it serves HTTPS with a certificate for `localhost` from a CA
that `trustme` makes for the session; `ca_file` is that CA's PEM.

Stopping is deterministic: slow answers wait on an event that `reset` and
`stop` set, open connections are shut down, and `stop` joins every handler
thread.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import shutil
import socket
import ssl
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import trustme

from .process import ServerError

REALM = "portal-sync-test"


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it."""

    method: str
    path: str
    headers: Message
    body: bytes
    at: float

    def header(self, name: str) -> str | None:
        """Return a request header (case-insensitive), None when absent."""
        return self.headers.get(name)


@dataclass(frozen=True)
class Document:
    """A published document and the validators the server sends with it."""

    body: bytes
    content_type: str
    etag: str
    last_modified: datetime


@dataclass(frozen=True)
class Reply:
    """What a route answers: a status, a content type and a body."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Status:
    """Answer every affected request with this status (500 by default) before anything else."""

    code: int = 500
    body: bytes = b"internal error (test fault)\n"


@dataclass(frozen=True)
class Delay:
    """Wait this long before sending the status line and headers, then answer normally."""

    seconds: float


@dataclass(frozen=True)
class SlowBody:
    """Send the headers at once, then the body `chunk` bytes at a time, `interval` apart."""

    interval: float
    chunk: int = 64


@dataclass(frozen=True)
class Truncate:
    """Announce the whole body's Content-Length, send only `sent` bytes, then close."""

    sent: int = 16


@dataclass(frozen=True)
class NotJSON:
    """Serve this body (HTML by default) in place of the document, with its headers."""

    body: bytes = b"<html><body>Bad gateway (maintenance)</body></html>\n"


@dataclass(frozen=True)
class Drop:
    """Close the connection after reading the request, without any answer."""


Fault = Status | Delay | SlowBody | Truncate | NotJSON | Drop
Route = Callable[[RecordedRequest], Reply]


def etag_of(body: bytes) -> str:
    """Return a strong ETag for a body."""
    return '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


def _matches(if_none_match: str, etag: str) -> bool:
    """Return whether an If-None-Match value matches `etag` (weak comparison, as for GET)."""
    wanted = etag.removeprefix("W/")
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == wanted:
            return True
    return False


def not_modified(headers: Message, document: Document) -> bool:
    """Return whether a GET with these headers gets 304 (RFC 9110 13.2.2: ETag first)."""
    if_none_match = headers.get("If-None-Match")
    if if_none_match is not None:
        return _matches(if_none_match, document.etag)
    since = headers.get("If-Modified-Since")
    if since is None:
        return False
    try:
        when = parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
    if when.tzinfo is None:
        return False
    return document.last_modified <= when


class _Handler(BaseHTTPRequestHandler):
    """Hand every request to the SourceServer that owns this socket server."""

    protocol_version = "HTTP/1.1"
    timeout = 30
    server: _SocketServer

    def _dispatch(self) -> None:
        try:
            self.server.owner.answer(self)
        except (ConnectionError, TimeoutError, ssl.SSLError):
            self.close_connection = True

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        """Keep quiet: the request log is the record."""


class _SocketServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its open connections and joins its threads on close."""

    daemon_threads = False
    block_on_close = True

    def __init__(self, owner: SourceServer, context: ssl.SSLContext | None) -> None:
        self.owner = owner
        self.context = context
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        if self.context is not None:
            # The handshake runs in the handler's thread, so a client that
            # never completes it cannot hold up the accept loop.
            sock = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        with self.connections_lock:
            self.connections.add(sock)
        return sock, address

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut down every open connection (its handler then sees the end of the stream)."""
        with self.connections_lock:
            open_now = list(self.connections)
        for sock in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Record the error (a failed TLS handshake, for one) instead of printing it."""
        self.owner.errors.append(repr(sys.exc_info()[1]))


class SourceServer:
    """An HTTP or HTTPS server on 127.0.0.1 in a thread of the test process."""

    def __init__(self, *, tls: bool = False, tls_name: str = "localhost") -> None:
        self.tls = tls
        self.tls_name = tls_name
        self.errors: list[str] = []
        self.timings: dict[str, float] = {}
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._documents: dict[str, Document] = {}
        self._routes: dict[tuple[str, str], Route] = {}
        self._auth: tuple[str, str] | None = None
        self._fault: Fault | None = None
        self._fault_left: int | None = None
        self._requests: list[RecordedRequest] = []
        self._server: _SocketServer | None = None
        self._thread: threading.Thread | None = None
        self._directory: Path | None = None

    @property
    def port(self) -> int:
        """Return the port the server listens on."""
        if self._server is None:
            raise ServerError("the HTTP server is not running")
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        """Return the host name clients use: the certificate's name with TLS, else 127.0.0.1."""
        return self.tls_name if self.tls else "127.0.0.1"

    @property
    def url(self) -> str:
        """Return the base URL, without a trailing slash."""
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def url_for(self, path: str) -> str:
        """Return the URL of a path on this server."""
        return self.url + path

    @property
    def ca_file(self) -> Path:
        """Return the PEM file of the CA that signed the server's certificate (TLS only)."""
        if not self.tls or self._directory is None:
            raise ServerError("the HTTP server has no TLS CA (start it with tls=True)")
        return self._directory / "ca.pem"

    def ssl_context(self) -> ssl.SSLContext:
        """Return a client SSL context that trusts only the server's CA (for httpx `verify=`)."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    @property
    def running(self) -> bool:
        """Return whether the server thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Bind a free loopback port (and make the CA with TLS), then serve in a thread."""
        if self.running:
            return
        started = time.monotonic()
        context = None
        if self.tls:
            self._directory = Path(tempfile.mkdtemp(prefix="portal-sync-http-"))
            authority = trustme.CA(organization_name="portal-sync test CA")
            authority.cert_pem.write_to_path(str(self.ca_file))
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            authority.issue_cert(self.tls_name).configure_cert(context)
        self._cancel = threading.Event()
        self._server = _SocketServer(self, context)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"http-source-{self.port}",
            daemon=True,
        )
        self._thread.start()
        self.timings.setdefault("start", time.monotonic() - started)

    def stop(self) -> None:
        """Stop serving, close every connection, join every thread, delete the CA files."""
        if self._server is not None:
            self._cancel.set()
            self._server.shutdown()
            self._server.close_connections()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(10)
            if self._thread.is_alive():
                raise ServerError("the HTTP server thread did not stop")
            self._thread = None
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None

    def reset(self) -> None:
        """Forget documents, routes, auth, fault and log; end slow answers and open connections."""
        with self._lock:
            self._cancel.set()
            self._cancel = threading.Event()
            self._documents.clear()
            self._routes.clear()
            self._auth = None
            self._fault = None
            self._fault_left = None
            self._requests.clear()
            self.errors.clear()
        if self._server is not None:
            self._server.close_connections()

    def publish(
        self,
        path: str,
        body: bytes | str | Any,
        *,
        content_type: str | None = None,
        last_modified: datetime | None = None,
    ) -> Document:
        """Serve `body` at `path` (bytes, text, or anything JSON can encode) and return it.

        The ETag is a hash of the body; Last-Modified is now unless given
        (HTTP dates have whole seconds, so it is truncated to the second).
        Publishing again replaces the document and its validators.
        """
        if isinstance(body, bytes):
            data, kind = body, "application/octet-stream"
        elif isinstance(body, str):
            data, kind = body.encode("utf-8"), "text/plain; charset=utf-8"
        else:
            data, kind = json.dumps(body).encode("utf-8"), "application/json"
        when = (last_modified or datetime.now(UTC)).replace(microsecond=0)
        document = Document(data, content_type or kind, etag_of(data), when)
        with self._lock:
            self._documents[path] = document
        return document

    def route(self, method: str, path: str, answer: Route) -> None:
        """Answer `method` on `path` with a function of the recorded request (forms, echoes).

        A function that raises gets a 500 naming the exception, also kept in `errors`.
        """
        with self._lock:
            self._routes[(method.upper(), path)] = answer

    def require_bearer(self, token: str) -> None:
        """Answer 401 unless the request carries `Authorization: Bearer <token>`."""
        with self._lock:
            self._auth = ("bearer", token)

    def require_basic(self, user: str, password: str) -> None:
        """Answer 401 unless the request carries basic auth for `user` and `password`."""
        pair = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        with self._lock:
            self._auth = ("basic", pair)

    def fault(self, fault: Fault | None, *, times: int | None = None) -> None:
        """Apply `fault` to every request from now on, or to the next `times` requests only."""
        with self._lock:
            self._fault = fault
            self._fault_left = times

    @property
    def requests(self) -> list[RecordedRequest]:
        """Return a copy of the requests received since the last reset, oldest first."""
        with self._lock:
            return list(self._requests)

    def _take(self, request: RecordedRequest) -> tuple[Fault | None, threading.Event]:
        """Record a request; return the fault that applies to it and the cancel event."""
        with self._lock:
            self._requests.append(request)
            fault = self._fault
            if fault is not None and self._fault_left is not None:
                self._fault_left -= 1
                if self._fault_left <= 0:
                    self._fault, self._fault_left = None, None
            return fault, self._cancel

    def answer(self, handler: _Handler) -> None:
        """Answer one request: fault, then auth, then route or document (304 when unchanged)."""
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        request = RecordedRequest(handler.command, handler.path, handler.headers, body, time.time())
        fault, cancel = self._take(request)
        if isinstance(fault, Delay) and cancel.wait(fault.seconds):
            handler.close_connection = True
            return
        if isinstance(fault, Drop):
            handler.close_connection = True
            return
        if isinstance(fault, Status):
            self._send(handler, fault.code, fault.body, "text/plain; charset=utf-8")
            return
        if not self._authorized(handler.headers):
            self._send(
                handler,
                401,
                b"authentication required\n",
                "text/plain; charset=utf-8",
                (("WWW-Authenticate", self._challenge()),),
            )
            return
        path = urlsplit(handler.path).path
        with self._lock:
            route = self._routes.get((handler.command, path))
            document = self._documents.get(path)
        if route is not None:
            try:
                reply = route(request)
            except Exception as exc:
                self.errors.append(f"route {handler.command} {path}: {exc!r}")
                reply = Reply(500, f"route failed: {exc!r}\n".encode(), "text/plain; charset=utf-8")
            self._send(handler, reply.status, reply.body, reply.content_type, reply.headers)
            return
        if document is None:
            self._send(handler, 404, b"not found\n", "text/plain; charset=utf-8")
            return
        if handler.command not in ("GET", "HEAD"):
            self._send(handler, 405, b"", "text/plain", (("Allow", "GET, HEAD"),))
            return
        validators = (
            ("ETag", document.etag),
            ("Last-Modified", format_datetime(document.last_modified, usegmt=True)),
        )
        if not_modified(handler.headers, document):
            self._send(handler, 304, b"", None, validators)
            return
        data = fault.body if isinstance(fault, NotJSON) else document.body
        self._send_document(handler, data, document.content_type, validators, fault, cancel)

    def _authorized(self, headers: Message) -> bool:
        """Return whether the request carries the credentials the server requires."""
        with self._lock:
            auth = self._auth
        if auth is None:
            return True
        scheme, _, credentials = (headers.get("Authorization") or "").partition(" ")
        return scheme.lower() == auth[0] and hmac.compare_digest(
            credentials.strip().encode(), auth[1].encode()
        )

    def _challenge(self) -> str:
        """Return the WWW-Authenticate value of a 401."""
        with self._lock:
            scheme = self._auth[0] if self._auth else "bearer"
        if scheme == "basic":
            return f'Basic realm="{REALM}", charset="UTF-8"'
        return f'Bearer realm="{REALM}"'

    @staticmethod
    def _send(
        handler: _Handler,
        status: int,
        body: bytes,
        content_type: str | None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Send a whole response with its Content-Length (none for 304)."""
        handler.send_response(status)
        if content_type is not None:
            handler.send_header("Content-Type", content_type)
        for name, value in headers:
            handler.send_header(name, value)
        if status != 304:
            handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if handler.command != "HEAD" and status != 304:
            handler.wfile.write(body)

    @staticmethod
    def _send_document(
        handler: _Handler,
        data: bytes,
        content_type: str,
        validators: Iterable[tuple[str, str]],
        fault: Fault | None,
        cancel: threading.Event,
    ) -> None:
        """Send a document's 200, whole, slowly or cut short as the fault says."""
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        for name, value in validators:
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        if handler.command == "HEAD":
            return
        if isinstance(fault, Truncate):
            handler.wfile.write(data[: min(fault.sent, max(len(data) - 1, 0))])
            handler.wfile.flush()
            handler.close_connection = True
            return
        if isinstance(fault, SlowBody):
            handler.wfile.flush()
            for offset in range(0, len(data), fault.chunk):
                handler.wfile.write(data[offset : offset + fault.chunk])
                handler.wfile.flush()
                if offset + fault.chunk < len(data) and cancel.wait(fault.interval):
                    handler.close_connection = True
                    return
            return
        handler.wfile.write(data)
