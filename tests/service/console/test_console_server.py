"""The console's server without a directory: off by default, loopback, a port in use named."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from sync.errors import ConfigurationError
from sync.service.console import ConsoleServer, Feed
from sync.service.health import Health
from sync.service.history import History
from sync.settings import load_settings


def feed(state: Path) -> Feed:
    return Feed(
        lambda: Health(False, "no run has finished yet"),
        History(state, 5),
        lambda reason: None,
        lambda: None,
        lambda: False,
    )


def test_the_console_is_off_and_on_loopback_by_default() -> None:
    console = load_settings().console
    assert console.enabled is False
    assert console.host == "127.0.0.1"
    assert console.role_group == "Administrators"


def test_a_port_in_use_is_a_configuration_error_naming_the_setting(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        settings = load_settings(console={"enabled": True, "port": port}, state_dir=tmp_path)
        with pytest.raises(ConfigurationError, match=r"Address already in use; fix .*console.port"):
            ConsoleServer(settings, feed(tmp_path))


@pytest.mark.parametrize("secure", [False, True])
def test_the_server_starts_serves_the_login_page_and_stops(tmp_path: Path, secure: bool) -> None:
    settings = load_settings(
        console={"enabled": True, "port": 0, "secure_cookie": secure}, state_dir=tmp_path
    )
    server = ConsoleServer(settings, feed(tmp_path))
    host, port = server.address
    assert host == "127.0.0.1"
    server.start()
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/login", timeout=10)
        assert answer.status_code == 200 and 'name="csrf"' in answer.text
        cookie = answer.headers["set-cookie"].lower()
        assert "samesite=strict" in cookie and "httponly" in cookie
        assert ("; secure" in cookie) is secure
    finally:
        server.stop()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
