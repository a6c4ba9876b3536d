"""The console's server: uvicorn in a thread of the daemon, on a socket bound up front.

The socket is bound before the thread starts, so a port in use is a
configuration error the daemon reports at its start, not a line in a log.
uvicorn installs no signal handlers outside the main thread: the daemon
keeps SIGTERM and SIGINT for itself and stops the server in `stop()`.
"""

from __future__ import annotations

import logging
import socket
import threading

import uvicorn

from sync.errors import ConfigurationError
from sync.service.console.app import Console
from sync.service.console.views import Feed
from sync.settings import Settings

log = logging.getLogger("portal_sync.console")


class ConsoleServer:
    """The console, listening on its own address, served from a thread of its own."""

    def __init__(self, settings: Settings, feed: Feed) -> None:
        config = settings.console
        family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
        # IPPROTO_TCP named, so that asyncio sets TCP_NODELAY on each accepted
        # connection: without it a page's body waits about 40 ms behind its headers
        # (Nagle's algorithm against the client's delayed ACK).
        self._socket = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self._socket.bind((config.host, config.port))
            self._socket.listen(64)
        except OSError as exc:
            self._socket.close()
            raise ConfigurationError(
                f"the console cannot listen on {config.host}:{config.port}: {exc.strerror}; "
                f"fix {config.name_of('host')} or {config.name_of('port')}"
            ) from exc
        self.console = Console(settings, feed)
        self._server = uvicorn.Server(
            uvicorn.Config(
                self.console.app,
                log_config=None,
                access_log=False,
                lifespan="off",
                server_header=False,
                timeout_graceful_shutdown=5,
            )
        )
        self._thread = threading.Thread(target=self._serve, name="console", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        """Return the (host, port) the console listens on."""
        host, port = self._socket.getsockname()[:2]
        return str(host), int(port)

    def start(self) -> None:
        """Start answering requests, and read the source for the first page meanwhile."""
        self._thread.start()
        threading.Thread(target=self.console.warm, name="console-snapshot", daemon=True).start()

    def _serve(self) -> None:
        try:
            self._server.run(sockets=[self._socket])
        except BaseException:
            log.exception("the console stopped")
            raise

    def stop(self) -> None:
        """Stop answering, close the socket and wait for the thread."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(10)
        self._socket.close()
