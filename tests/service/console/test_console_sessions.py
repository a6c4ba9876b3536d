"""Sessions that ended stay ended; every refusal of a login looks and lasts the same.

httpx against the daemon's real console: a logged-out cookie after the
daemon restarts and on a second daemon sharing the signing key, the
absolute lifetime of a session, and the refusals of the login form.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from console_values import ADMIN, REFUSALS, SECRET, password
from daemons import Daemon, free_port, wait_for
from itsdangerous import TimestampSigner

if TYPE_CHECKING:
    from console_site import Site

pytest_plugins = ["console_site"]
pytestmark = pytest.mark.slapd

COOKIE = "portal_sync_console"
FLOOR = 1.0
"""console.refusal_seconds by default."""


def csrf_of(client: httpx.Client, path: str = "/login") -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert found
    return found.group(1)


def log_in(client: httpx.Client, login: str, secret: str) -> httpx.Response:
    token = csrf_of(client)
    return client.post("/login", data={"csrf": token, "login": login, "password": secret})


def forged(data: dict[str, object], age: float) -> str:
    """Return a session cookie for `data`, signed with the test key, as if set `age` seconds ago."""

    class Dated(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time() - age)

    payload = base64.b64encode(json.dumps(data).encode())
    return Dated(SECRET).sign(payload).decode()


def session_of(client: httpx.Client) -> dict[str, object]:
    value = client.cookies[COOKIE]
    data: dict[str, object] = json.loads(base64.b64decode(value.rsplit(".", 2)[0]))
    return data


@pytest.fixture
def client(site: Site) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.url, follow_redirects=False, timeout=30) as anonymous:
        yield anonymous


def logged_out_cookie(client: httpx.Client) -> str:
    """Log in as the admin, keep a copy of the cookie, log out; return the copy."""
    assert log_in(client, ADMIN, password(ADMIN)).status_code == 303
    kept = client.cookies[COOKIE]
    assert client.post("/logout", data={"csrf": csrf_of(client, "/")}).status_code == 303
    return kept


def console_answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/login", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_logged_out_session_stays_ended_after_a_restart(client: httpx.Client, site: Site) -> None:
    kept = logged_out_cookie(client)
    assert site.daemon.signal() == 0
    site.daemon.start()
    wait_for(lambda: console_answers(site.url), "the console after the restart")
    with httpx.Client(base_url=site.url, follow_redirects=False, timeout=30) as copy:
        copy.cookies.set(COOKIE, kept)
        answer = copy.get("/")
        assert answer.status_code == 303 and answer.headers["location"] == "/login"


def test_a_logged_out_session_is_ended_on_a_second_daemon_with_the_same_key(
    client: httpx.Client, site: Site, tmp_path: Path
) -> None:
    port = free_port()
    shared = Path(site.daemon.env["PORTAL_SYNC_STATE_DIR"]) / "console-ended-sessions.json"
    env = {
        **site.daemon.env,
        "PORTAL_SYNC_STATE_DIR": str(tmp_path / "state"),
        "PORTAL_SYNC_CONSOLE__PORT": str(port),
        "PORTAL_SYNC_CONSOLE__ENDED_SESSIONS": str(shared),
    }
    with Daemon(env, tmp_path, "second") as second:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: console_answers(url), "the second daemon's console")
        with httpx.Client(base_url=url, follow_redirects=False, timeout=30) as other:
            assert log_in(other, ADMIN, password(ADMIN)).status_code == 303
            live = other.cookies[COOKIE]
            with httpx.Client(base_url=site.url, follow_redirects=False) as first:
                first.cookies.set(COOKIE, live)
                assert first.get("/").status_code == 200, "one key, one session on both"
            assert other.post("/logout", data={"csrf": csrf_of(other, "/")}).status_code == 303
            with httpx.Client(base_url=site.url, follow_redirects=False) as first:
                first.cookies.set(COOKIE, live)
                answer = first.get("/")
                assert answer.status_code == 303, "ended on the second, ended on the first"
        kept = logged_out_cookie(client)
        with httpx.Client(base_url=url, follow_redirects=False, timeout=30) as other:
            other.cookies.set(COOKIE, kept)
            assert other.get("/").status_code == 303
        assert second.alive


def test_a_session_ends_after_its_absolute_lifetime(client: httpx.Client) -> None:
    assert log_in(client, ADMIN, password(ADMIN)).status_code == 303
    data = session_of(client)
    assert isinstance(data.get("born"), int)
    for born, status in ((int(time.time()) - 11 * 3600, 200), (int(time.time()) - 13 * 3600, 303)):
        client.cookies.clear()
        client.cookies.set(COOKIE, forged({**data, "born": born}, age=0))
        assert client.get("/").status_code == status, born
    client.cookies.clear()
    without = {k: v for k, v in data.items() if k != "born"}
    client.cookies.set(COOKIE, forged(without, age=0))
    assert client.get("/").status_code == 303, "a session without its birth is refused"


@REFUSALS
def test_every_refusal_lasts_at_least_the_floor(
    client: httpx.Client, login: str, secret: str | None
) -> None:
    token = csrf_of(client)
    data = {
        "csrf": token,
        "login": login,
        "password": password(login) if secret is None else secret,
    }
    started = time.monotonic()
    answer = client.post("/login", data=data)
    took = time.monotonic() - started
    assert answer.status_code == 401
    assert took >= FLOOR, f"refused after {took:.3f} s"


def test_the_login_page_does_not_name_the_role_group(client: httpx.Client) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    assert "Administrators" not in page.text
