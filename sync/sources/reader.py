"""What a run asks of the source of the customer structure, whatever reads it.

A reader gives the document as the core wants it, validated, its bad
records cut out and reported (`LoadedDocument`), and a digest of the source
as it is now, so that a run whose source the last clean run applied already
reads nothing. The JSON/YAML file is one reader; a SQL or HTTP reader is
another class with these two methods, chosen by `source_of`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

from sync.settings import SourceSettings
from sync.sources.document import LoadedDocument, read_document


class Source(Protocol):
    """A reader of the customer structure."""

    def digest(self) -> str:
        """Return a digest of the source as it is now; "" when it cannot tell."""
        ...

    def load(self) -> LoadedDocument:
        """Return the document, bad records cut out; raise SourceError when it is unreadable."""
        ...


@runtime_checkable
class Counted(Protocol):
    """A reader that can say how many rows each of its queries reads (`portal-sync check`)."""

    def counts(self) -> dict[str, int]:
        """Return the number of rows per query."""
        ...


@dataclass(frozen=True)
class DocumentFile:
    """The source document in a JSON or YAML file."""

    path: Path
    max_size: int | None = None
    limit_setting: str = "source.max_size"
    """Where the size limit was set, for the message when the file is above it."""

    def digest(self) -> str:
        """Return the digest of the file's bytes, or "" when it cannot be read."""
        try:
            return _file_digest(self.path)
        except OSError:
            return ""

    def load(self) -> LoadedDocument:
        """Return the document in the file, refusing one above the size limit unread."""
        return read_document(self.path, self.max_size, self.limit_setting)


def source_of(settings: SourceSettings, state_dir: Path | None = None) -> Source:
    """Return the reader of the configured source (`source.kind`).

    The HTTP reader keeps the last answer's validators in `state_dir`, so
    that an unchanged export costs one conditional request.
    """
    if settings.kind == "sql":
        from sync.sources.sql import SqlSource

        return SqlSource(settings.sql)
    if settings.kind == "http":
        from sync.sources.http import HttpSource

        return HttpSource(settings.http, settings.max_size, state_dir)
    return DocumentFile(settings.path, settings.max_size, settings.name_of("max_size"))


def _file_digest(path: Path) -> str:
    """Return the digest of a file's bytes."""
    digest = hashlib.blake2b(digest_size=16)
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def source_override(value: str) -> dict[str, Any]:
    """Return the source settings `--source` gives: a file path, an http(s):// or a database URL."""
    scheme = urlsplit(value).scheme.lower() if "://" in value else ""
    if scheme in ("http", "https"):
        return {"kind": "http", "http": {"url": value}}
    if scheme:
        return {"kind": "sql", "sql": {"url": value}}
    return {"kind": "file", "path": Path(value)}


def describe_source(settings: SourceSettings) -> str:
    """Return the configured source in words, with no password in it."""
    if settings.kind == "sql":
        parts = urlsplit(settings.sql.url)
        url = settings.sql.url
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
            url = urlunsplit(parts._replace(netloc=netloc))
        return f"SQL {url} with {settings.sql.queries}"
    if settings.kind == "http":
        parts = urlsplit(settings.http.url)
        netloc = parts.netloc.rsplit("@", 1)[-1]
        return f"HTTP {urlunsplit(parts._replace(netloc=netloc))}"
    return str(settings.path)
