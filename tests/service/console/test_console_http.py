"""The console's guards, without a browser: httpx against the daemon's real console server."""

from __future__ import annotations

import base64
import copy
import json
import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import httpx
import pytest
from console_values import (
    ADMIN,
    EXTERNAL,
    HOSTILE,
    HOSTILE_ID,
    REFUSALS,
    SECOND_ADMIN,
    SECRET,
    THIRD_ADMIN,
    password,
)
from daemons import pause, resume, wait_for
from itsdangerous import TimestampSigner
from ldap3 import MODIFY_ADD, MODIFY_DELETE, Connection, Server

if TYPE_CHECKING:
    from console_site import Site

pytest_plugins = ["console_site"]
pytestmark = pytest.mark.slapd

COOKIE = "portal_sync_console"
PAGES = [
    "/",
    "/users",
    "/users/jsilva",
    "/users?q=silva",
    "/orders",
    "/orders/_20261120_001",
    "/customers",
    "/customers/10001",
    "/sync",
]
REFUSED = "Login refused: unknown user, wrong password, or not allowed to use the console."


@pytest.fixture
def client(site: Site) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.url, follow_redirects=False, timeout=20) as anonymous:
        yield anonymous


def csrf_of(client: httpx.Client, path: str = "/login") -> str:
    """Return the CSRF token of the form on a page."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def log_in(client: httpx.Client, login: str, secret: str | None = None) -> httpx.Response:
    """Post the login form as a browser would, with the page's CSRF token."""
    token = csrf_of(client)
    return client.post(
        "/login",
        data={
            "csrf": token,
            "login": login,
            "password": password(login) if secret is None else secret,
        },
    )


def session_of(client: httpx.Client) -> dict[str, str]:
    """Return the data in the client's session cookie."""
    value = client.cookies[COOKIE]
    return json.loads(base64.b64decode(value.rsplit(".", 2)[0]))


def forged(data: dict[str, str], age: float, key: str = SECRET) -> str:
    """Return a session cookie for `data`, signed with `key`, as if set `age` seconds ago."""

    class Dated(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time() - age)

    payload = base64.b64encode(json.dumps(data).encode())
    return Dated(key).sign(payload).decode()


@pytest.mark.parametrize("path", PAGES)
def test_every_page_requires_a_session(client: httpx.Client, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"
    assert "jsilva" not in answer.text and "Lumi" not in answer.text


def test_sync_now_without_a_session_asks_for_no_run(client: httpx.Client, site: Site) -> None:
    token = csrf_of(client)
    answer = client.post("/sync", data={"csrf": token})
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    assert "console: " not in site.daemon.log


def test_an_admin_logs_in_with_a_signed_httponly_strict_cookie(client: httpx.Client) -> None:
    answer = log_in(client, ADMIN)
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "httponly" in cookie.lower()
    assert "samesite=strict" in cookie.lower()
    assert "Max-Age=1800" in cookie
    page = client.get("/")
    assert page.status_code == 200
    assert "Health:" in page.text and ADMIN in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


@REFUSALS
def test_everyone_else_gets_the_same_refusal(
    client: httpx.Client, site: Site, login: str, secret: str | None
) -> None:
    answer = log_in(client, login, secret if secret is not None else password(login))
    assert answer.status_code == 401
    assert REFUSED in answer.text
    assert "login" not in session_of(client)
    assert client.get("/").status_code == 303
    assert f"console login of {login!r}" in site.daemon.log


def test_a_post_without_the_csrf_token_is_refused(client: httpx.Client, site: Site) -> None:
    assert log_in(client, ADMIN).status_code == 303
    before = site.daemon.log.count("run requested: console")
    for data in ({}, {"csrf": "forged-token"}, {"csrf": ""}):
        answer = client.post("/sync", data=data)
        assert answer.status_code == 403, data
    assert site.daemon.log.count("run requested: console") == before
    fresh = httpx.Client(base_url=site.url, follow_redirects=False)
    refused = fresh.post("/login", data={"login": ADMIN, "password": password(ADMIN)})
    assert refused.status_code == 403
    assert COOKIE not in refused.headers.get("set-cookie", "")


def test_logging_out_ends_the_session(client: httpx.Client) -> None:
    assert log_in(client, ADMIN).status_code == 303
    token = csrf_of(client, "/")
    kept = client.cookies[COOKIE]
    assert client.post("/logout", data={"csrf": "wrong"}).status_code == 403
    assert client.get("/").status_code == 200
    answer = client.post("/logout", data={"csrf": token})
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    assert COOKIE not in client.cookies
    assert client.get("/").status_code == 303
    client.cookies.set(COOKIE, kept)
    answer = client.get("/")
    assert answer.status_code == 303, "a copy of the cookie is no way back in"


def test_an_expired_session_is_refused(client: httpx.Client) -> None:
    assert log_in(client, ADMIN).status_code == 303
    data = session_of(client)
    client.cookies.clear()
    client.cookies.set(COOKIE, forged(data, age=60))
    assert client.get("/").status_code == 200, "the forged cookie should be valid when fresh"
    client.cookies.clear()
    client.cookies.set(COOKIE, forged(data, age=31 * 60))
    answer = client.get("/")
    assert answer.status_code == 303 and answer.headers["location"] == "/login"


def test_a_cookie_signed_with_another_key_is_refused(client: httpx.Client) -> None:
    assert log_in(client, ADMIN).status_code == 303
    data = session_of(client)
    client.cookies.clear()
    client.cookies.set(COOKIE, forged(data, age=0, key="another-key"))
    assert client.get("/").status_code == 303


def test_a_user_taken_out_of_the_role_group_is_out_at_the_next_request(
    client: httpx.Client, site: Site
) -> None:
    assert log_in(client, SECOND_ADMIN).status_code == 303
    assert client.get("/customers").status_code == 200
    server = site.server
    admin = Connection(Server(server.url), server.root_dn, server.root_pw, auto_bind=True)
    group = f"cn=Administrators,ou=roles,ou=groups,{server.suffix}"
    user = f"uid={SECOND_ADMIN},ou=internal,{server.suffix}"
    assert admin.modify(group, {"member": [(MODIFY_DELETE, [user])]}), admin.result
    answer = client.get("/customers")
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    assert f"console session of {SECOND_ADMIN!r} ended" in site.daemon.log
    assert log_in(client, SECOND_ADMIN).status_code == 401


def test_an_external_user_put_in_the_role_group_by_hand_is_still_refused(
    client: httpx.Client, site: Site
) -> None:
    server = site.server
    admin = Connection(Server(server.url), server.root_dn, server.root_pw, auto_bind=True)
    group = f"cn=Administrators,ou=roles,ou=groups,{server.suffix}"
    user = f"uid={EXTERNAL},ou=external,{server.suffix}"
    assert admin.modify(group, {"member": [(MODIFY_ADD, [user])]}), admin.result
    try:
        answer = log_in(client, EXTERNAL)
        assert answer.status_code == 401 and REFUSED in answer.text
        assert f"{EXTERNAL!r} is an external user" in site.daemon.log
    finally:
        admin.modify(group, {"member": [(MODIFY_DELETE, [user])]})


def test_failed_logins_are_limited_and_logged(client: httpx.Client, site: Site) -> None:
    for _ in range(3):
        assert log_in(client, THIRD_ADMIN, "wrong").status_code == 401
    answer = log_in(client, THIRD_ADMIN)
    assert answer.status_code == 429
    assert "Too many failed logins" in answer.text
    assert f"console login of {THIRD_ADMIN!r} from 127.0.0.1 refused: too many" in site.daemon.log
    assert client.get("/").status_code == 303
    assert log_in(client, ADMIN).status_code == 303, "another login is not locked out"


def test_values_are_escaped(client: httpx.Client) -> None:
    assert log_in(client, ADMIN).status_code == 303
    page = client.get(f"/customers/{HOSTILE_ID}")
    assert page.status_code == 200
    assert "<script>" not in page.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page.text
    assert "&#34;Q&#34; &amp; &#39;A&#39; שלום \u202eevil" in page.text
    assert HOSTILE not in page.text


def test_one_request_leaks_nothing_into_another(client: httpx.Client, site: Site) -> None:
    assert log_in(client, ADMIN).status_code == 303
    assert client.get("/users/jsilva").status_code == 200
    with httpx.Client(base_url=site.url, follow_redirects=False) as other:
        login_page = other.get("/login")
        assert ADMIN not in login_page.text and "jsilva" not in login_page.text
        assert other.get("/users/jsilva").status_code == 303
        assert csrf_of(other) != session_of(client)["csrf"]


def test_sync_now_asks_the_daemon_for_a_run_and_shows_its_result(
    client: httpx.Client, site: Site
) -> None:
    assert log_in(client, ADMIN).status_code == 303
    runs = site.runs()
    answer = client.post("/sync", data={"csrf": csrf_of(client, "/")})
    assert answer.status_code == 303 and answer.headers["location"] == "/sync"
    wait_for(lambda: site.runs() > runs, "the requested run")
    page = wait_for(
        lambda: (
            (p := client.get("/sync")).status_code == 200 and 'id="sync-outcome"' in p.text and p
        ),
        "the result on the page",
    )
    assert "success" in page.text
    assert f"run requested: console: {ADMIN}" in site.daemon.log


def test_a_directory_outage_shows_a_page_saying_so_and_lets_nobody_in(
    client: httpx.Client, site: Site
) -> None:
    assert log_in(client, ADMIN).status_code == 303
    pause(site.server)
    try:
        answer = client.get("/users/jsilva")
        assert answer.status_code == 503
        assert "jsilva" not in answer.text and "Not available right now" in answer.text
        assert "console: GET /users/jsilva failed" in site.daemon.log
        with httpx.Client(base_url=site.url, follow_redirects=False) as other:
            assert log_in(other, ADMIN).status_code == 503
            assert other.get("/").status_code == 303
    finally:
        resume(site.server)
    assert client.get("/users/jsilva").status_code == 200


def test_a_disabled_user_shows_since_when_and_until_when_kept(
    client: httpx.Client, site: Site
) -> None:
    document = copy.deepcopy(site.document)
    tom = next(u for u in document["internal_users"] if u["login"] == "tom.weber")
    tom["enabled"] = False
    site.publish(document)
    assert log_in(client, ADMIN).status_code == 303
    runs = site.runs()
    assert client.post("/sync", data={"csrf": csrf_of(client, "/")}).status_code == 303
    wait_for(lambda: site.runs() > runs, "the requested run")
    page = client.get("/users/tom.weber")
    assert page.status_code == 200
    assert 'id="no-user"' in page.text
    found = re.search(r"disabled since (\S+ \S+) \S+, kept until (\S+ \S+) \S+", page.text)
    assert found, page.text
    since, until = (datetime.fromisoformat(value) for value in found.groups())
    assert until - since == timedelta(days=30)
    assert "internal user U-2, groups: Customer Sales Representatives, disabled" in page.text


def test_the_record_errors_of_the_last_run_are_listed_with_a_link(
    client: httpx.Client, site: Site
) -> None:
    document = copy.deepcopy(site.document)
    document["orders"].append(
        {"id": "_20261125_007", "name": "Bad", "customer": "10001", "agency": "10003"}
    )
    site.publish(document)
    assert log_in(client, ADMIN).status_code == 303
    runs = site.runs()
    assert client.post("/sync", data={"csrf": csrf_of(client, "/")}).status_code == 303
    wait_for(lambda: site.runs() > runs, "the requested run")
    overview = client.get("/")
    assert (
        '<a href="/orders/_20261125_007">order _20261125_007</a>: '
        "customer 10003 is not flagged as an agency"
    ) in overview.text
    order = client.get("/orders/_20261125_007")
    assert "record error: customer 10003 is not flagged as an agency" in order.text
    assert "its record has an error (below): no group is made for it" in order.text
