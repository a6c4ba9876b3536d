"""The incremental state in the state directory: read, written atomically, forgotten.

The state (`sync.core.digest.State`) is a cache. Whatever goes wrong with
its file (missing, corrupt, written for another directory or another
mapping) makes the next run a full reconciliation: it costs time, never
correctness.

A file alone cannot tell that it is stale: an earlier run's file put back,
or the file of another host whose runs changed the same directory since.
So every state carries a random token that the directory holds too, in the
description of `cn=portal-sync-state,<base DN>`; a run that writes to the
directory first puts a fresh token there, and a state is trusted only while
the directory holds its token (`sync.run.incremental`).
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from sync.core.digest import State, parse_state
from sync.files import keep_private

log = logging.getLogger("portal_sync")

FILE_NAME = "incremental-state.json"
TOKEN_RDN = "cn=portal-sync-state"
"""The entry below the base DN whose description holds the token of the current state."""


def token_dn(base_dn: str) -> str:
    """Return the DN of the entry holding the state token."""
    return f"{TOKEN_RDN},{base_dn}"


def new_token() -> str:
    """Return a fresh random token (16 random bytes in hex)."""
    return secrets.token_hex(16)


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
        return parse_state(text)
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring the incremental state %s (a full run follows): %s", path, exc)
        return None


def save_state(state_dir: Path, state: State) -> str:
    """Write the state atomically; return "" or, when it cannot be written, a warning.

    A state not written only costs time: the next run reads everything.
    """
    return keep_private(
        state_dir / FILE_NAME,
        state.to_json(),
        "the incremental state",
        log,
        "the next run is a full one (it reads every managed entry)",
    )


def forget_state(state_dir: Path) -> None:
    """Remove the stored state, so the next run is a full one."""
    try:
        (state_dir / FILE_NAME).unlink(missing_ok=True)
    except OSError as exc:
        log.warning("cannot remove the incremental state in %s: %s", state_dir, exc)
