"""The file's reader: the document read whole, refused unread when above the size limit."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from sync.sources.document import LoadedDocument, read_document


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


def _file_digest(path: Path) -> str:
    """Return the digest of a file's bytes."""
    digest = hashlib.blake2b(digest_size=16)
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
