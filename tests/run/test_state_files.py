"""The state directory: private files, a full disk, and a damaged password state."""

from __future__ import annotations

import errno
import json
import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import documents
import pytest
from daemons import environment

pytestmark = pytest.mark.slapd


def source_hash(login: str) -> str:
    return "{CRYPT}$6$salt$" + login


def document(persons: int = 3) -> dict:
    return documents.big_document(2, persons, password_hash=source_hash)


def portal_sync(
    server, source: Path, state: Path, *args: str, **settings
) -> subprocess.CompletedProcess:
    """Run `portal-sync run` as a shell outside systemd would: umask 022."""
    settings.setdefault("passwords__external", "source-hash")
    return subprocess.run(
        [sys.executable, "-m", "sync", "run", *args],
        env=environment(server, source, state, **settings),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=source.parent,
        preexec_fn=lambda: os.umask(0o022),
    )


def write(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def modes(folder: Path) -> dict[str, str]:
    """Return the permission bits of `folder` and of everything below it, by relative path."""
    found = {".": oct(stat.S_IMODE(folder.stat().st_mode))}
    for path in folder.rglob("*"):
        found[str(path.relative_to(folder))] = oct(stat.S_IMODE(path.stat().st_mode))
    return found


def test_the_state_directory_and_its_files_are_private_under_umask_022(slapd, tmp_path):
    source = write(tmp_path / "source.json", document())
    state = tmp_path / "var" / "portal-sync"
    result = portal_sync(slapd, source, state)
    assert result.returncode == 0, result.stdout + result.stderr
    found = modes(state)
    assert {"incremental-state.json", "passwords.json", "run.lock", "history"} <= found.keys()
    assert {
        name: mode
        for name, mode in found.items()
        if mode != ("0o700" if (state / name).is_dir() else "0o600")
    } == {}
    assert oct(stat.S_IMODE((tmp_path / "var").stat().st_mode)) == "0o700"


def test_a_truncated_password_state_says_whether_deleting_it_is_safe(slapd, tmp_path):
    source = write(tmp_path / "source.json", document())
    state = tmp_path / "state"
    assert portal_sync(slapd, source, state).returncode == 0
    whole = (state / "passwords.json").read_text(encoding="utf-8")
    (state / "passwords.json").write_text(whole[: len(whole) // 2], encoding="utf-8")

    result = portal_sync(slapd, source, state, "--full")
    assert result.returncode == 2
    message = result.stderr
    assert f"{state / 'passwords.json'}" in message
    assert "safe to delete" in message
    assert "no password in the directory is changed" in message
    assert "costs" in message


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """Yield a directory on a tmpfs of 256 KiB of its own, unmounted after the test."""
    folder = tmp_path / "disk"
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def fill(folder: Path) -> None:
    """Write into `folder` until its file system is full."""
    with (folder / "filler").open("ab", buffering=0) as handle:
        try:
            while True:
                handle.write(b"x" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc


def test_a_full_disk_is_a_warning_in_the_report_and_leaves_no_temporary_file(slapd, small_disk):
    state = small_disk / "state"
    source = write(small_disk.parent / "source.json", document(3))
    first = portal_sync(slapd, source, state, passwords__external="none")
    assert first.returncode == 0, first.stdout + first.stderr
    before = (state / "incremental-state.json").read_text(encoding="utf-8")

    write(source, document(4))
    fill(small_disk)
    result = portal_sync(slapd, source, state, "--json", passwords__external="none")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [p.name for p in small_disk.rglob("*") if ".tmp" in p.name] == []
    report = json.loads(result.stdout)
    assert report["outcome"] == "success"
    assert report["counts"]["add"] == 2, report["counts"]
    warnings = report["warnings"]
    assert any("incremental state" in w and "No space left on device" in w for w in warnings)
    assert any("run report" in w for w in warnings)
    assert (state / "incremental-state.json").read_text(encoding="utf-8") == before

    (small_disk / "filler").unlink()
    text = portal_sync(slapd, source, state, passwords__external="none")
    assert text.returncode == 0 and "warning" not in text.stdout, text.stdout


def test_a_temporary_file_a_killed_writer_left_goes_with_the_next_write(tmp_path):
    from sync.files import STALE_SECONDS, write_private

    target = tmp_path / "passwords.json"
    stale = tmp_path / ".passwords.json.abc123.tmp"
    young = tmp_path / ".passwords.json.def456.tmp"
    for leftover in (stale, young):
        leftover.write_text("half a state", encoding="utf-8")
    old = stale.stat().st_mtime - STALE_SECONDS - 60
    os.utime(stale, (old, old))
    write_private(target, "{}")
    assert not stale.exists(), "a killed writer's temporary file stays for ever"
    assert young.exists(), "another writer's file under way was removed"
    assert target.read_text(encoding="utf-8") == "{}"


def test_a_state_file_that_cannot_be_written_is_a_warning_naming_it_and_its_cost(tmp_path, caplog):
    from sync.files import keep_private

    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the state folder should be", encoding="utf-8")
    path = blocked / "state.json"
    with caplog.at_level("WARNING", logger="portal_sync.test"):
        warning = keep_private(
            path, "{}", "the test state", logging.getLogger("portal_sync.test"), "it costs time"
        )
    assert warning.startswith(f"cannot write the test state {path}: ")
    assert warning.endswith("; it costs time") and warning in caplog.text
    assert keep_private(tmp_path / "state.json", "{}", "the test state", logging.getLogger()) == ""
    assert (tmp_path / "state.json").read_text(encoding="utf-8") == "{}"
