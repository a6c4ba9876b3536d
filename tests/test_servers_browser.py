"""The real browser the web console tests drive: Debian's headless Chromium (docs/test-servers.md).

A page from a loopback HTTP server is loaded, a form filled in and
submitted, text read and a screenshot taken; each test starts with an empty
cookie jar; a browser that is stopped leaves no process behind.
"""

from __future__ import annotations

import html
import struct
from pathlib import Path
from urllib.parse import parse_qs

from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

from servers import Browser, RecordedRequest, Reply, SourceServer
from servers.process import alive, group_members, processes_naming

pytest_plugins = ["servers.fixtures"]

FORM = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Find a user</title></head>
<body><h1>Find a user</h1>
<form method="post" action="/search">
<label>Login or name <input name="query" id="query"></label>
<button type="submit" id="go">Search</button>
</form></body></html>
"""


def answer_search(request: RecordedRequest) -> Reply:
    """Answer the form's POST with the query, escaped, and a session cookie."""
    query = parse_qs(request.body.decode("utf-8"))["query"][0]
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Results</title>'
        f'</head><body><p id="result">No user matches {html.escape(query)}</p></body></html>'
    )
    return Reply(
        body=page.encode("utf-8"),
        headers=(("Set-Cookie", "session=s3cr3t; Path=/; HttpOnly; SameSite=Strict"),),
    )


def png_size(path: Path) -> tuple[int, int]:
    """Return the width and height a PNG file declares (after checking its signature)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_a_form_submitted_in_the_browser_reaches_the_server_and_the_answer_is_shown(
    chromium: Browser, browser: Chrome, http_source: SourceServer, tmp_path: Path
) -> None:
    http_source.publish("/", FORM, content_type="text/html; charset=utf-8")
    http_source.route("POST", "/search", answer_search)

    browser.get(http_source.url_for("/"))
    assert browser.title == "Find a user"
    browser.find_element(By.ID, "query").send_keys("<script>alert(1)</script> & Söhne")
    browser.find_element(By.ID, "go").click()
    result = WebDriverWait(browser, 10).until(
        expected_conditions.presence_of_element_located((By.ID, "result"))
    )

    assert result.text == "No user matches <script>alert(1)</script> & Söhne"
    posted = [request for request in http_source.requests if request.method == "POST"]
    assert len(posted) == 1
    assert parse_qs(posted[0].body.decode())["query"] == ["<script>alert(1)</script> & Söhne"]
    assert "HeadlessChrome" in (posted[0].header("User-Agent") or "")
    assert png_size(chromium.screenshot(tmp_path / "result.png")) > (0, 0)


def test_a_screenshot_is_a_png_of_the_window_size(
    chromium: Browser, browser: Chrome, http_source: SourceServer, tmp_path: Path
) -> None:
    http_source.publish("/", FORM, content_type="text/html; charset=utf-8")
    browser.get(http_source.url_for("/"))

    shot = chromium.screenshot(tmp_path / "shots" / "form.png")

    width, height = png_size(shot)
    assert width == browser.execute_script("return window.innerWidth")
    assert height == browser.execute_script("return window.innerHeight")
    assert width > 1000


def test_a_fresh_browser_has_one_blank_window_and_no_cookie_of_any_site(
    chromium: Browser, browser: Chrome, http_source: SourceServer
) -> None:
    http_source.publish("/", FORM, content_type="text/html; charset=utf-8")
    http_source.route("POST", "/search", answer_search)
    browser.get(http_source.url_for("/"))
    browser.find_element(By.ID, "query").send_keys("jsilva")
    browser.find_element(By.ID, "go").click()
    WebDriverWait(browser, 10).until(lambda driver: driver.get_cookie("session") is not None)
    browser.get(http_source.url_for("/"))
    assert http_source.requests[-1].header("Cookie") == "session=s3cr3t"
    browser.execute_script("localStorage.setItem('draft', 'order 001')")
    browser.switch_to.new_window("tab")
    assert len(browser.window_handles) == 2

    driver = chromium.fresh()
    assert len(driver.window_handles) == 1
    assert driver.current_url == "about:blank"
    driver.get(http_source.url_for("/"))

    assert driver.get_cookies() == []
    assert http_source.requests[-1].header("Cookie") is None
    assert driver.execute_script("return localStorage.getItem('draft')") is None


def test_a_stopped_browser_leaves_no_process_and_no_file() -> None:
    browser = Browser()
    browser.start()
    directory = browser.directory
    chromedriver = browser.pid
    before = browser.processes()
    browser.driver.get("about:blank")

    browser.stop()

    assert len(before) > 3
    assert chromedriver in before
    assert alive(before) == []
    assert group_members(chromedriver) == []
    assert processes_naming(str(directory)) == []
    assert not directory.exists()
