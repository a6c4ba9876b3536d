"""A stop requested from outside the run (SIGTERM), honoured only where stopping is safe.

The signal handler only sets the request; the run checks it at its safe
points (before it connects, after it read the source, between the write
stages, while it waits for the run lock) and stops there with Interrupted.
Nothing else is cut short: a connection being opened, a lease being given
back, a report being written all finish.
"""

from __future__ import annotations

import threading

from sync.errors import Interrupted


class StopRequest:
    """A stop asked for once, with the message the run stops with."""

    def __init__(self) -> None:
        self.event = threading.Event()
        """Set when a stop is requested: the lock waits wake on it."""
        self.reason = ""

    def request(self, reason: str) -> None:
        """Ask the run to stop at its next safe point, with `reason` as its message."""
        self.reason = reason
        self.event.set()

    def clear(self) -> None:
        """Forget a request (a new run starts)."""
        self.event.clear()
        self.reason = ""

    def check(self) -> None:
        """Raise Interrupted when a stop was requested; call only where stopping is safe."""
        if self.event.is_set():
            raise Interrupted(self.reason or "stop requested")


requested = StopRequest()
"""The process's stop request: set by `portal-sync run`'s SIGTERM handler."""
