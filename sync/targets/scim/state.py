"""What the SCIM target pushed, kept in the state directory between runs (scim-state.json).

Per resource: its SCIM id, the digest of each attribute pushed, its members
(groups) and since when it is disabled (users). Only what the provider
confirmed is recorded. A lost or unreadable file costs lookups, not
duplicates: a resource missing from the state is looked up by externalId
before it is created.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from sync.files import write_private
from sync.targets.scim.plan import Pushed

log = logging.getLogger("portal_sync.scim")

FILE_NAME = "scim-state.json"
FORMAT = 1


def load_pushed(state_dir: Path, url: str) -> dict[str, Pushed]:
    """Return what the runs pushed to the provider at `url`; empty when unknown."""
    path = state_dir / FILE_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("cannot read %s (%s): every resource is looked up again", path, exc)
        return {}
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("url") != url:
        return {}
    return {key: _pushed(value) for key, value in data.get("resources", {}).items()}


def save_pushed(state_dir: Path, url: str, pushed: dict[str, Pushed]) -> str:
    """Write what was pushed; return "" or, when it cannot be written, a warning."""
    path = state_dir / FILE_NAME
    resources = {key: _plain(value) for key, value in sorted(pushed.items())}
    text = json.dumps(
        {"format": FORMAT, "url": url, "resources": resources},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    try:
        write_private(path, text)
    except OSError as exc:
        warning = f"cannot write the SCIM state {path}: {exc.strerror or exc}"
        log.warning("%s", warning)
        return warning
    return ""


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
