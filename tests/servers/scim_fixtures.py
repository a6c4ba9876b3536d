"""Fixtures of the SCIM target's tests: one scim2-server per session, a fresh tenant per test.

Load with `pytest_plugins = ["servers.scim_fixtures"]` in a test module.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sync.settings import Settings, load_settings

from .scim import ScimProxy, ScimServer


@pytest.fixture(scope="session")
def scim_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScimServer]:
    """Start scim2-server once for the session; stop it by its process group."""
    server = ScimServer(tmp_path_factory.mktemp("scim2-server"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def scim(scim_server: ScimServer) -> Iterator[ScimProxy]:
    """Return a recording proxy in front of a new, empty tenant of the session's server."""
    proxy = ScimProxy(scim_server.tenant())
    try:
        yield proxy
    finally:
        proxy.close()


@pytest.fixture
def scim_settings(scim: ScimProxy, tmp_path: Path) -> Callable[..., Settings]:
    """Return a factory: settings that push a given document to the test tenant only."""

    def make(document: dict[str, Any], **overrides: Any) -> Settings:
        path = tmp_path / "source.json"
        path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
        options = {"url": scim.url, "bulk": False, **overrides.pop("scim", {})}
        overrides.setdefault("state_dir", tmp_path / "state")
        return load_settings(source={"path": path}, targets=["scim"], scim=options, **overrides)

    return make
