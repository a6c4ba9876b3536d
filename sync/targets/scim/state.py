"""What the SCIM target pushed, kept in the state directory between runs (scim-state.json).

Per resource: its SCIM id, the digest of each attribute pushed, its members
(groups) and since when it is disabled (users). Only what the provider
confirmed is recorded. A lost or unreadable file costs lookups, not
duplicates: a resource missing from the state is looked up by externalId
before it is created.

A run that pushed everything with no record error also records what it
applied (`Applied`): the source's digest and the fingerprint of the
settings that shape the resources. The next run over the same source and
settings, with no retention ending, has nothing to do and reads nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sync.files import keep_private
from sync.targets.scim.plan import Pushed

log = logging.getLogger("portal_sync.scim")

FILE_NAME = "scim-state.json"
FORMAT = 1


@dataclass(frozen=True)
class Applied:
    """What a clean run pushed everything of: the source as it was, the settings that shaped it."""

    source: str
    """The source's digest (`Source.digest`)."""
    fingerprint: str
    """The digest of the settings besides the source that shape the resources."""
    managed: dict[str, int] = field(default_factory=dict)
    """The resources the run managed, by kind (what its report said)."""


def load_pushed(state_dir: Path, url: str) -> dict[str, Pushed]:
    """Return what the runs pushed to the provider at `url`; empty when unknown."""
    return load_state(state_dir, url)[0]


def load_state(state_dir: Path, url: str) -> tuple[dict[str, Pushed], Applied | None]:
    """Return what the runs pushed to the provider at `url`, and what the last clean run applied.

    Empty and None when the file is missing, unreadable or of another provider.
    """
    path = state_dir / FILE_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}, None
    except (OSError, ValueError) as exc:
        log.warning("cannot read %s (%s): every resource is looked up again", path, exc)
        return {}, None
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("url") != url:
        return {}, None
    plain = data.get("resources", {})
    pushed = {key: _pushed(value) for key, value in plain.items()}
    applied: Any = data.get("applied")
    try:
        if applied["resources"] != _digest(plain):  # the file was edited or cut since
            return pushed, None
        return pushed, Applied(
            str(applied["source"]), str(applied["fingerprint"]), dict(applied.get("managed", {}))
        )
    except (TypeError, KeyError, AttributeError, ValueError):  # none, or not one: no shortcut
        return pushed, None


def save_pushed(
    state_dir: Path, url: str, pushed: dict[str, Pushed], applied: Applied | None = None
) -> str:
    """Write what was pushed (and what a clean run applied); return "" or a warning."""
    path = state_dir / FILE_NAME
    resources = {key: _plain(value) for key, value in sorted(pushed.items())}
    data: dict[str, Any] = {"format": FORMAT, "url": url, "resources": resources}
    if applied is not None:
        data["applied"] = {
            "source": applied.source,
            "fingerprint": applied.fingerprint,
            "managed": applied.managed,
            "resources": _digest(resources),
        }
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return keep_private(path, text, "the SCIM state", log)


def _digest(resources: dict[str, Any]) -> str:
    """Return the digest of the resources as the file holds them.

    What a clean run applied vouches only for the resources it wrote: a
    resource taken out of the file by hand must be looked up again.
    """
    text = json.dumps(resources, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _pushed(value: dict[str, Any]) -> Pushed:
    since = value.get("disabled_since")
    return Pushed(
        str(value["id"]),
        dict(value.get("digests", {})),
        tuple(value.get("members", ())),
        datetime.fromisoformat(since) if since else None,
    )


def _plain(pushed: Pushed) -> dict[str, Any]:
    found: dict[str, Any] = {"id": pushed.id, "digests": pushed.digests}
    if pushed.members:
        found["members"] = list(pushed.members)
    if pushed.disabled_since is not None:
        found["disabled_since"] = pushed.disabled_since.isoformat()
    return found
