"""Start, watch and stop the test servers' processes, each by the process group it leads.

Every server and bridge starts as the leader of a session of its own
(`start_new_session`), so one stop reaches whatever it forked (socat's
per-connection children and the processes they run inside a network
namespace) by that one ID, never by a process name.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


class ServerError(RuntimeError):
    """A test server could not be set up, started or stopped."""


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port nobody listens on at the moment."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_open(port: int, host: str = "127.0.0.1") -> bool:
    """Return whether something accepts TCP connections on `host:port`."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def tail(path: Path | None, lines: int = 20) -> str:
    """Return the last lines of a log file, or a note that there is none."""
    if path is None or not path.exists():
        return "(no log)"
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(text[-lines:])


def run(
    command: Sequence[str], *, what: str, timeout: float = 180, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """Run a setup command to its end; raise ServerError with its output when it fails."""
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ServerError(f"{what}: {shlex.join(command)}: {exc}") from exc
    if result.returncode != 0:
        output = (result.stdout + result.stderr).splitlines()[-20:]
        raise ServerError(
            f"{what}: {shlex.join(command)} exited with {result.returncode}:\n" + "\n".join(output)
        )
    return result


def spawn(command: Sequence[str], *, log: Path, **kwargs: Any) -> subprocess.Popen[bytes]:
    """Start a long-running process as the leader of its own group, its output into `log`."""
    with log.open("ab") as out:
        try:
            return subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **kwargs,
            )
        except OSError as exc:
            raise ServerError(f"cannot start {shlex.join(command)}: {exc}") from exc


def wait_until(
    ready: Callable[[], bool],
    *,
    process: subprocess.Popen[bytes],
    what: str,
    log: Path | None = None,
    timeout: float = 60,
    interval: float = 0.05,
) -> None:
    """Poll `ready` until it holds; raise ServerError if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        code = process.poll()
        if code is not None:
            raise ServerError(
                f"{what}: process {process.pid} exited with {code} before it was ready;"
                f" last lines of {log}:\n{tail(log)}"
            )
        if ready():
            return
        if time.monotonic() > deadline:
            raise ServerError(
                f"{what}: not ready after {timeout:.0f} s; last lines of {log}:\n{tail(log)}"
            )
        time.sleep(interval)


def _stat_fields(pid: str) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def _group(pgid: int) -> dict[int, int]:
    """Return {pid: parent pid} of the live (not zombie) processes of group `pgid`."""
    members = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(entry)
        if fields is not None and fields[0] != "Z" and int(fields[2]) == pgid:
            members[int(entry)] = int(fields[1])
    return members


def group_members(pgid: int) -> list[int]:
    """Return the live (not zombie) processes of process group `pgid`."""
    return sorted(_group(pgid))


def children(pid: int) -> list[int]:
    """Return the live (not zombie) processes whose parent is `pid`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(entry)
        if fields is not None and fields[0] != "Z" and int(fields[1]) == pid:
            found.append(int(entry))
    return sorted(found)


def alive(pids: Sequence[int]) -> list[int]:
    """Return those of `pids` that are still live processes (not zombies)."""
    return [pid for pid in pids if (fields := _stat_fields(str(pid))) and fields[0] != "Z"]


def processes_naming(marker: str) -> list[int]:
    """Return the live (not zombie) processes whose command line contains `marker`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            command = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        fields = _stat_fields(entry)
        if marker.encode() in command and fields is not None and fields[0] != "Z":
            found.append(int(entry))
    return sorted(found)


def netns_of(pid: int) -> str:
    """Return the network namespace of a process, as `net:[inode]`."""
    return os.readlink(f"/proc/{pid}/ns/net")


def netns_members(netns: str) -> list[int]:
    """Return the live processes inside a network namespace."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            inside = os.readlink(f"/proc/{entry}/ns/net") == netns
        except OSError:
            continue
        fields = _stat_fields(entry)
        if inside and fields is not None and fields[0] != "Z":
            members.append(int(entry))
    return members


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _stop_descendants(pgid: int, sig: signal.Signals, timeout: float) -> None:
    """Signal the group's members other than its leader, deepest first, so parents reap them.

    socat keeps each finished connection's process for half a second; killed
    together with their parent, such children would be left as zombies.
    """
    deadline = time.monotonic() + timeout
    while (members := _group(pgid)) and set(members) != {pgid}:
        parents = set(members.values())
        for pid in members:
            if pid != pgid and pid not in parents:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
        if time.monotonic() > deadline:
            return
        time.sleep(0.01)


def stop_group(
    process: subprocess.Popen[bytes], *, sig: signal.Signals = signal.SIGTERM, timeout: float = 15
) -> None:
    """Stop the group `process` leads: its children first, then itself; reap it.

    Whatever is still there after `timeout` seconds gets SIGKILL.
    """
    pgid = process.pid
    if sig != signal.SIGKILL:
        _stop_descendants(pgid, sig, timeout=2)
    _signal_group(pgid, sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        _signal_group(pgid, signal.SIGKILL)
        process.wait(timeout)
    deadline = time.monotonic() + timeout
    killed = False
    while members := group_members(pgid):
        if time.monotonic() > deadline:
            if killed:
                raise ServerError(f"processes {members} of group {pgid} outlived the stop")
            _signal_group(pgid, signal.SIGKILL)
            killed = True
            deadline = time.monotonic() + timeout
        time.sleep(0.02)
