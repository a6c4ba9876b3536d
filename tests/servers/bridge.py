"""A port on the host's loopback that leads into another network namespace (socat)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .process import ServerError, free_port, spawn, stop_group, tail, wait_until


class LoopbackBridge:
    """Forward 127.0.0.1:`port` on the host to 127.0.0.1:`target` inside process `pid`'s namespace.

    Each connection runs `nsenter -t PID -n socat STDIO TCP:127.0.0.1:TARGET`.
    The colons inside EXEC's command are escaped: unescaped, socat 1.7 splits
    the address there and closes every connection at once (a TLS client then
    sees an EOF in the handshake). With `port` None a free port is chosen, and
    another one if that is taken before socat binds it.
    """

    def __init__(self, pid: int, target: int, log: Path, port: int | None = None) -> None:
        self.pid = pid
        self.target = target
        self.log = log
        self.port = port
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Listen on the host port; return once socat has bound it."""
        attempts = 1 if self.port is not None else 5
        for _ in range(attempts):
            port = self.port or free_port()
            self.log.write_text("")
            process = spawn(
                [
                    "socat",
                    "-d",
                    "-d",
                    f"TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr",
                    f"EXEC:nsenter -t {self.pid} -n socat STDIO TCP\\:127.0.0.1\\:{self.target}",
                ],
                log=self.log,
            )
            try:
                wait_until(
                    lambda: "listening on" in self.log.read_text(errors="replace"),
                    process=process,
                    what=f"socat bridge 127.0.0.1:{port} -> {self.target}",
                    log=self.log,
                    timeout=10,
                )
            except ServerError:
                stop_group(process)
                if "Address already in use" in tail(self.log) and self.port is None:
                    continue
                raise
            self._process = process
            self.port = port
            return
        raise ServerError(f"socat bridge to {self.target}: no free port after {attempts} tries")

    @property
    def running(self) -> bool:
        """Return whether the bridge's socat is listening."""
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        """Stop socat and every connection it forked (its process group)."""
        if self._process is not None:
            stop_group(self._process)
            self._process = None
