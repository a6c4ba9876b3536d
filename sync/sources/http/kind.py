"""HTTP(S) as a kind of source: `[source.http]`, the document fetched, watched conditionally.

The daemon notices a change by a conditional request every few seconds: a
new ETag (or Last-Modified) is a change.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from sync.sources.http.settings import HttpSourceSettings
from sync.sources.kind import Poll, Source, SourceKind, Watches
from sync.sources.watch import ChangeWatch

if TYPE_CHECKING:
    from sync.settings import Settings, SourceSettings


class HttpKind(SourceKind):
    """The source document at an HTTP(S) URL."""

    settings = HttpSourceSettings
    schemes = ("http", "https")

    def unready(self, source: SourceSettings) -> str:
        """Return the problem when the URL is no http(s):// URL."""
        if source.own(HttpSourceSettings).url.lower().startswith(("http://", "https://")):
            return ""
        return 'source.kind is "http" but source.http.url is no http(s):// URL'

    def reader(self, source: SourceSettings, state_dir: Path | None) -> Source:
        """Return the reader of the URL; it keeps the last answer's validators in `state_dir`."""
        from sync.sources.http.reader import HttpSource

        return HttpSource(source.own(HttpSourceSettings), source.max_size, state_dir)

    def override(self, value: str) -> dict[str, Any]:
        """Return the URL `--source` gives."""
        return {"http": {"url": value}}

    def describe(self, source: SourceSettings) -> str:
        """Return the URL without the user and password it may carry."""
        parts = urlsplit(source.own(HttpSourceSettings).url)
        netloc = parts.netloc.rsplit("@", 1)[-1]
        return f"HTTP {urlunsplit(parts._replace(netloc=netloc))}"

    def watches(
        self, settings: Settings, request: Callable[[str], None], stopping: threading.Event
    ) -> Watches:
        """Return the conditional request, every `source.http.poll_interval` (0: none)."""
        from sync.sources.http.reader import HttpSource

        own = settings.source.own(HttpSourceSettings)
        interval = own.poll_interval
        if interval <= 0:
            return Watches()
        http = HttpSource(own, settings.source.max_size)
        what = f"conditional request every {interval:g} s"
        asked = ChangeWatch(http.change_token, lambda: request("the export changed"), what)
        return Watches([Poll(asked.poll, interval, what)])
