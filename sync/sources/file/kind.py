"""The file as a kind of source: `source.path`, read whole, watched by `stat`.

Its one setting, `source.path`, sits in the `source` group itself rather
than in a group of its own: it was there before kinds were plug-ins, and
settings files keep working.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sync.sources.kind import Poll, Source, SourceKind, Watches

if TYPE_CHECKING:
    from sync.settings import Settings, SourceSettings


class FileKind(SourceKind):
    """The source document in a JSON or YAML file."""

    schemes = ("",)

    def reader(self, source: SourceSettings, state_dir: Path | None) -> Source:
        """Return the reader of the file at `source.path`."""
        from sync.sources.file.reader import DocumentFile

        return DocumentFile(source.path, source.max_size, source.name_of("max_size"))

    def override(self, value: str) -> dict[str, Any]:
        """Return the path `--source` gives."""
        return {"path": Path(value)}

    def describe(self, source: SourceSettings) -> str:
        """Return the file's path."""
        return str(source.path)

    def watches(
        self, settings: Settings, request: Callable[[str], None], stopping: threading.Event
    ) -> Watches:
        """Return the look at the file's `stat`, every `schedule.watch_interval` (0: none)."""
        from sync.sources.file.watch import SourceWatch

        interval = settings.schedule.watch_interval
        if interval <= 0:
            return Watches()
        watch = SourceWatch(settings.source.path, lambda: request("source changed"))
        return Watches([Poll(watch.poll, interval, f"file watched every {interval:g} s")])
