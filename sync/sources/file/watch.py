"""The file's change watch: polling `stat` (mtime, size, inode) a few times a second.

It costs nothing and works on every file system, network mounts included,
where inotify does not. A change fires once the file has looked the same on
two looks in a row, so a document still being written is not read half-way.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

Signature = tuple[int, int, int] | None


def signature(path: Path) -> Signature:
    """Return what identifies the file's current content cheaply, or None when it is missing."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return (status.st_mtime_ns, status.st_size, status.st_ino)


class SourceWatch:
    """Call `on_change` once each time the file at `path` changed and settled."""

    def __init__(self, path: Path, on_change: Callable[[], None]) -> None:
        self.path = path
        self._on_change = on_change
        self._seen = signature(path)
        self._candidate: Signature | tuple[()] = ()

    def poll(self) -> None:
        """Look at the file once."""
        current = signature(self.path)
        if current == self._seen:
            self._candidate = ()
        elif current == self._candidate:
            self._seen = current
            self._candidate = ()
            self._on_change()
        else:
            self._candidate = current
