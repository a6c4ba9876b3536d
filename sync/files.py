"""Files in the state directory: private to the service user, and replaced atomically.

The state directory holds the hashes of passwords the service wrote, the
run reports and what the incremental runs rely on: nobody else on the host
needs to read them. Every directory made here is 0700 and every file 0600,
whatever the umask of the process (outside systemd it is usually 022).
Every state file is written by `write_private`, the one atomic writer: a
crash or a full disk leaves the old file or the new one under the real
name, never half of one, and no temporary file behind (one a process killed
mid-write left is removed by the next write of that file).
"""

from __future__ import annotations

import glob
import logging
import os
import tempfile
import time
from contextlib import suppress
from pathlib import Path

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600
STALE_SECONDS = 3600
"""A temporary file of ours this old was left by a process killed mid-write (SIGKILL)."""


def private_directory(path: Path) -> Path:
    """Create `path` and the missing directories above it, each 0700; return `path`.

    A directory that exists already keeps its mode: the administrator chose it.
    """
    missing = []
    for folder in (path, *path.parents):
        if folder.is_dir():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIRECTORY_MODE)
        except FileExistsError:
            continue
        os.chmod(folder, DIRECTORY_MODE)
    return path


def open_private(path: Path, flags: int) -> int:
    """Open `path` with `flags` (os.O_*); create it 0600 in a private directory when missing.

    Return the file descriptor. A file that exists already keeps its mode.
    """
    private_directory(path.parent)
    try:
        descriptor = os.open(path, flags | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return os.open(path, flags)
    os.fchmod(descriptor, FILE_MODE)
    return descriptor


def write_private(path: Path, text: str) -> None:
    """Replace `path` with a file holding `text`, readable by its owner only (0600).

    The text goes to a temporary file next to `path`, is flushed to the disk,
    and the temporary file is renamed over `path`. On any failure (a full
    disk, a read-only file system) the temporary file is removed, `path` is
    left as it was, and the OSError is raised for the caller to report.
    """
    private_directory(path.parent)
    _remove_stale(path)
    descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(name, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(name)
        raise


def keep_private(path: Path, text: str, what: str, log: logging.Logger, cost: str = "") -> str:
    """Write a state file with `write_private`; return "" or, when it cannot, the warning logged.

    A state file not written costs time or lookups, never correctness: the
    run carries on and its report carries the warning. `what` names the file
    ("the incremental state"), `cost` says what its loss costs.
    """
    try:
        write_private(path, text)
    except OSError as exc:
        warning = f"cannot write {what} {path}: {exc.strerror or exc}"
        warning += f"; {cost}" if cost else ""
        log.warning("%s", warning)
        return warning
    return ""


def _remove_stale(path: Path) -> None:
    """Remove the temporary files a killed writer of `path` left (older than STALE_SECONDS).

    A younger one may be another process's write under way: it is left alone.
    """
    now = time.time()
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        with suppress(OSError):
            if now - stale.stat().st_mtime > STALE_SECONDS:
                stale.unlink()
