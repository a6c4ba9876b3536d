"""A kind of source as a plug-in: everything portal-sync knows of it, behind one object.

Each kind (file, SQL, HTTP) is a folder of `sync.sources` holding its
settings group, its reader, its change watch, its `check` lines and (as
`SecretStr` fields of its group) its secrets, and a `SourceKind` that hands
them out; `sync.sources.kinds` lists the kinds. Whoever needs a kind (the
settings, `source_of`, `--source`, the daemon's watch, `check`) asks the
table, never the kind's name, so a new kind is one folder and one line there.

This module is imported while the settings are assembled: it loads no reader.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sync.origins import SettingGroup

if TYPE_CHECKING:
    from sync.settings import Settings, SourceSettings
    from sync.sources.document import LoadedDocument

ANY_SCHEME = "*"
"""In `SourceKind.schemes`: every URL scheme no other kind names."""


class Source(Protocol):
    """A reader of the customer structure."""

    def digest(self) -> str:
        """Return a digest of the source as it is now; "" when it cannot tell."""
        ...

    def load(self) -> LoadedDocument:
        """Return the document, bad records cut out; raise SourceError when it is unreadable."""
        ...


@dataclass(frozen=True)
class Poll:
    """A look at the source that the daemon repeats every `interval` seconds."""

    poll: Callable[[], None]
    interval: float
    what: str
    """How the source is watched, in words for the daemon's start-up line."""


@dataclass
class Watches:
    """How a kind notices that its source changed: looks to repeat, loops that wait for news.

    The kind says whether the source changed; the daemon (`sync.service.watch`)
    schedules the polls and runs each listener in a thread of its own.
    """

    polls: list[Poll] = field(default_factory=list)
    listeners: list[Callable[[], None]] = field(default_factory=list)
    """Loops that call the request on each announced change and return once `stopping` is set."""


class SourceKind(ABC):
    """One kind of source; a subclass per folder, one instance in `sync.sources.kinds`.

    Every method is given the whole `source` group with `source.kind` naming
    this kind; `source.own(...)` is the kind's own group (`source.sql`).
    """

    settings: type[SettingGroup] | None = None
    """The kind's settings group, `[source.<name>]` (its name in the table); None for none."""
    schemes: tuple[str, ...] = ()
    """What `--source VALUE` gives this kind: URL schemes, "" for a path, ANY_SCHEME for the
    schemes no other kind names."""

    def unready(self, source: SourceSettings) -> str:
        """Return why the settings cannot select this kind (a setting missing), or ""."""
        return ""

    @abstractmethod
    def reader(self, source: SourceSettings, state_dir: Path | None) -> Source:
        """Return the reader of the source; the HTTP reader keeps validators in `state_dir`."""

    @abstractmethod
    def override(self, value: str) -> dict[str, Any]:
        """Return the settings of the `source` group that `--source VALUE` sets, kind aside."""

    @abstractmethod
    def describe(self, source: SourceSettings) -> str:
        """Return the source in words, with no password in it."""

    def watches(
        self, settings: Settings, request: Callable[[str], None], stopping: threading.Event
    ) -> Watches:
        """Return how the daemon notices changes; each calls `request` with the reason."""
        return Watches()

    def check(self, reader: Source) -> list[str]:
        """Return what `portal-sync check` adds about the source, one line each."""
        return []
