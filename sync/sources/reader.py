"""What a run asks of the source of the customer structure, whatever kind reads it.

A reader gives the document as the core wants it, validated, its bad
records cut out and reported (`LoadedDocument`), and a digest of the source
as it is now, so that a run whose source the last clean run applied already
reads nothing. Each kind of source has its reader, found by `source.kind`
in the table of kinds (`sync.sources.kinds`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sync.errors import ConfigurationError
from sync.settings import SourceSettings
from sync.sources.kind import ANY_SCHEME, Source, SourceKind
from sync.sources.kinds import KINDS

__all__ = ["Source", "check_lines", "describe_source", "source_of", "source_override"]


def kind_of(source: SourceSettings) -> SourceKind:
    """Return the kind of source the settings select (`source.kind`)."""
    return KINDS[source.kind]


def source_of(settings: SourceSettings, state_dir: Path | None = None) -> Source:
    """Return the reader of the configured source (`source.kind`).

    The HTTP reader keeps the last answer's validators in `state_dir`, so
    that an unchanged export costs one conditional request.
    """
    return kind_of(settings).reader(settings, state_dir)


def source_override(value: str) -> dict[str, Any]:
    """Return the source settings `--source` gives: a file path, or a URL of a kind's scheme.

    A kind that names the URL's scheme (http, https) takes it before the
    kind that takes every other scheme (a database URL).
    """
    scheme = urlsplit(value).scheme.lower() if "://" in value else ""
    named = [name for name, kind in KINDS.items() if scheme in kind.schemes]
    if not named and scheme:
        named = [name for name, kind in KINDS.items() if ANY_SCHEME in kind.schemes]
    if not named:
        raise ConfigurationError(f"--source {value}: no kind of source reads {scheme or 'a path'}")
    return {"kind": named[0], **KINDS[named[0]].override(value)}


def describe_source(settings: SourceSettings) -> str:
    """Return the configured source in words, with no password in it."""
    return kind_of(settings).describe(settings)


def check_lines(settings: SourceSettings, reader: Source) -> list[str]:
    """Return what `portal-sync check` says about the source beyond its records."""
    return kind_of(settings).check(reader)
