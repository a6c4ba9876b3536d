"""How far a run got: a bar on a terminal, a log line every N seconds in the daemon.

A run calls `stage` when it enters a stage (reading the source, building,
reading the directory, applying) and `advance` per item done. The base
class says nothing, so a run without a watcher pays one method call per item.
"""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType
from typing import IO, Any, Self

log = logging.getLogger("portal_sync.progress")

_REFRESH = 0.1
"""Seconds between two updates of the bar; the items in between are only counted."""


class Progress:
    """Where a run says how far it got; this one tells nobody."""

    def stage(self, name: str, total: int | None = None) -> None:
        """Enter a stage of `total` items (None: unknown)."""

    def advance(self, count: int = 1) -> None:
        """Count `count` items of the current stage as done."""

    def close(self) -> None:
        """End the display."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class _Counted(Progress):
    """A progress that keeps the stage, the items done and when the stage began."""

    def __init__(self) -> None:
        self.name = ""
        self.total: int | None = None
        self.done = 0
        self.since = time.monotonic()

    def stage(self, name: str, total: int | None = None) -> None:
        self.name, self.total, self.done, self.since = name, total, 0, time.monotonic()

    def advance(self, count: int = 1) -> None:
        self.done += count

    def line(self) -> str:
        """Return the state in words: stage, done of total, rate."""
        elapsed = max(time.monotonic() - self.since, 1e-9)
        if self.total is None and not self.done:
            return f"{self.name}: {elapsed:.0f} s so far"
        of = f" of {self.total:,}" if self.total is not None else ""
        return f"{self.name}: {self.done:,}{of} ({self.done / elapsed:,.0f}/s, {elapsed:.0f} s)"


class LoggedProgress(_Counted):
    """Log the state every `interval` seconds while a run lasts (the daemon's progress)."""

    def __init__(self, interval: float) -> None:
        super().__init__()
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="progress", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            if self.name:
                log.info("progress: %s", self.line())

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


class TerminalProgress(Progress):
    """A progress bar on a terminal (rich), erased when the run ends."""

    def __init__(self, stream: IO[str]) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.progress import (
            Progress as Bars,
        )

        self._bars = Bars(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            console=Console(file=stream),
            transient=True,
        )
        self._task: Any = None
        self._done = 0
        self._since = self._shown = time.monotonic()
        self._bars.start()

    def stage(self, name: str, total: int | None = None) -> None:
        if self._task is not None:
            self._show()
            self._bars.remove_task(self._task)
        self._done, self._since, self._shown = 0, time.monotonic(), 0.0
        self._task = self._bars.add_task(name, total=total, rate="")

    def advance(self, count: int = 1) -> None:
        self._done += count
        if time.monotonic() - self._shown >= _REFRESH:
            self._show()

    def _show(self) -> None:
        self._shown = now = time.monotonic()
        rate = f"{self._done / max(now - self._since, 1e-9):,.0f}/s"
        self._bars.update(self._task, completed=self._done, rate=rate)

    def close(self) -> None:
        if self._task is not None:
            self._show()
        self._bars.stop()


def progress_for(stream: IO[str]) -> Progress:
    """Return a bar on `stream` when it is a terminal, else a progress that tells nobody."""
    return TerminalProgress(stream) if stream.isatty() else Progress()
