"""What the last successful run left in the directory, kept as digests in the state directory.

The state is a cache. It lets a run skip reading entries whose desired
content did not change since the last run that wrote them. Whatever goes
wrong with it (missing, corrupt, written for another directory or another
mapping) makes the next run a full reconciliation: it costs time, never
correctness. An entry the state cannot vouch for is stored with an empty
digest, which never matches, so the next run reads it again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from sync.core.entry import Entry

log = logging.getLogger("portal_sync")

FORMAT = 1
FILE_NAME = "incremental-state.json"
PENDING = ""
"""The digest of an entry the directory may hold in any shape: read it next time."""


def entry_digest(entry: Entry, extra: Iterable[str] = ()) -> str:
    """Return a short digest of an entry's DN and attribute values (and `extra` values)."""
    parts = [entry.dn]
    for name in sorted(entry.attributes):
        parts.append(name)
        parts.extend(entry.attributes[name])
        parts.append("")
    parts.extend(extra)
    return hashlib.blake2b("\0".join(parts).encode("utf-8"), digest_size=10).hexdigest()


def file_digest(path: Path) -> str:
    """Return the digest of a file's bytes."""
    digest = hashlib.blake2b(digest_size=16)
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def text_digest(text: str) -> str:
    """Return the digest of a text."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


@dataclass
class State:
    """The digests of the last successful run."""

    fingerprint: str
    last_full: datetime
    source_digest: str = ""
    clean: bool = False
    """Whether the last run left the directory exactly as the source wanted (no record error)."""
    managed: dict[str, int] = field(default_factory=dict)
    entries: dict[str, str] = field(default_factory=dict)
    retained: dict[str, str] = field(default_factory=dict)
    """Disabled users kept for their retention period, with the time it ends (ISO 8601)."""

    def due(self, clock: datetime) -> set[str]:
        """Return the retained users whose retention has ended by `clock`."""
        return {key for key, ends in self.retained.items() if datetime.fromisoformat(ends) <= clock}

    def to_json(self) -> str:
        """Return the state as JSON text."""
        return json.dumps(
            {
                "format": FORMAT,
                "fingerprint": self.fingerprint,
                "last_full": self.last_full.isoformat(),
                "source_digest": self.source_digest,
                "clean": self.clean,
                "managed": self.managed,
                "entries": self.entries,
                "retained": self.retained,
            },
            separators=(",", ":"),
        )


def _parse(text: str) -> State:
    data: Any = json.loads(text)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError("unknown format")
    entries = data["entries"]
    managed = data["managed"]
    if not isinstance(entries, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in entries.items()
    ):
        raise ValueError("entries must map keys to digests")
    if not isinstance(managed, dict):
        raise ValueError("managed must be an object")
    retained = data.get("retained", {})
    if not isinstance(retained, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in retained.items()
    ):
        raise ValueError("retained must map keys to times")
    for ends in retained.values():
        if datetime.fromisoformat(ends).tzinfo is None:
            raise ValueError("a retention end has no time zone")
    last_full = datetime.fromisoformat(data["last_full"])
    if last_full.tzinfo is None:
        raise ValueError("last_full has no time zone")
    return State(
        fingerprint=str(data["fingerprint"]),
        last_full=last_full,
        source_digest=str(data["source_digest"]),
        clean=data["clean"] is True,
        managed={str(k): int(v) for k, v in managed.items()},
        entries=entries,
        retained=retained,
    )


def load_state(state_dir: Path) -> State | None:
    """Return the stored state, or None (with a warning when it exists but cannot be used)."""
    path = state_dir / FILE_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("ignoring the incremental state %s (a full run follows): %s", path, exc)
        return None
    try:
        return _parse(text)
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring the incremental state %s (a full run follows): %s", path, exc)
        return None


def save_state(state_dir: Path, state: State) -> None:
    """Write the state atomically; a failure to write only costs the next run time."""
    path = state_dir / FILE_NAME
    temporary = path.with_suffix(".tmp")
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        temporary.write_text(state.to_json(), encoding="utf-8")
        os.replace(temporary, path)
    except OSError as exc:
        log.warning("cannot write the incremental state %s: %s", path, exc)


def forget_state(state_dir: Path) -> None:
    """Remove the stored state, so the next run is a full one."""
    try:
        (state_dir / FILE_NAME).unlink(missing_ok=True)
    except OSError as exc:
        log.warning("cannot remove the incremental state in %s: %s", state_dir, exc)


def full_due(last_full: datetime, now: datetime, full_at: time) -> bool:
    """Return whether the daily full reconciliation at local `full_at` is due since `last_full`."""
    local_now = now.astimezone()
    boundary = local_now.replace(
        hour=full_at.hour, minute=full_at.minute, second=full_at.second, microsecond=0
    )
    if boundary > local_now:
        boundary -= timedelta(days=1)
    return last_full < boundary


def stale_keys(
    previous: Mapping[str, str], digests: Mapping[str, str], protected: Iterable[str]
) -> set[str]:
    """Return the keys a run must read: changed or new entries, entries gone from the source,
    and quarantined entries the directory may still hold (their DNs stay protected)."""
    keys = {key for key, digest in digests.items() if previous.get(key) != digest}
    keys.update(key for key in previous if key not in digests)
    keys.update(key for key in protected if key in previous)
    return keys
