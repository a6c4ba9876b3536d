"""The change trigger fires once per settled change of the source file."""

from __future__ import annotations

import os

from sync.sources.file.watch import SourceWatch


def watched(tmp_path):
    path = tmp_path / "source.json"
    path.write_text("{}", encoding="utf-8")
    fired: list[int] = []
    return path, fired, SourceWatch(path, lambda: fired.append(1))


def touch(path, text):
    path.write_text(text, encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))


def test_an_unchanged_file_fires_nothing(tmp_path):
    _, fired, watch = watched(tmp_path)
    for _ in range(5):
        watch.poll()
    assert fired == []


def test_a_change_fires_once_when_the_file_has_settled(tmp_path):
    path, fired, watch = watched(tmp_path)
    touch(path, '{"a": 1}')
    watch.poll()
    assert fired == []
    watch.poll()
    watch.poll()
    assert fired == [1]


def test_a_file_still_being_written_waits_for_the_last_write(tmp_path):
    path, fired, watch = watched(tmp_path)
    touch(path, '{"a": ')
    watch.poll()
    touch(path, '{"a": 1}')
    watch.poll()
    assert fired == []
    watch.poll()
    assert fired == [1]


def test_a_file_replaced_by_rename_fires(tmp_path):
    path, fired, watch = watched(tmp_path)
    other = tmp_path / "new.json"
    other.write_text("{}", encoding="utf-8")
    os.replace(other, path)
    watch.poll()
    watch.poll()
    assert fired == [1]


def test_a_removed_file_fires_so_that_the_run_reports_it(tmp_path):
    path, fired, watch = watched(tmp_path)
    path.unlink()
    watch.poll()
    watch.poll()
    assert fired == [1]
