"""The kinds of source, by the name `source.kind` gives them: one line per kind.

A new kind is a folder of `sync.sources` with its `SourceKind`
(docs/architecture.md, "Adding a kind of source") and one line here; the
settings, `source_of`, `--source`, `check` and the daemon's watch find it
in this table.
"""

from __future__ import annotations

from sync.sources.file.kind import FileKind
from sync.sources.http.kind import HttpKind
from sync.sources.kind import SourceKind
from sync.sources.sql.kind import SqlKind

KINDS: dict[str, SourceKind] = {
    "file": FileKind(),
    "sql": SqlKind(),
    "http": HttpKind(),
}
"""Every kind of source; the first is the default of `source.kind`."""
