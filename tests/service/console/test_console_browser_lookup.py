"""Finding an order in a real browser: a search, a page of the list, an id with a "/".

Headless Chromium against the daemon of `test_console_lookup` (the seed plus
more than a page of orders, and the order `2026/0815`). The screenshot goes
to `tmp_path`, or to the folder named by CONSOLE_SCREENSHOTS.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from console_values import ADMIN, password
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait
from test_console_lookup import PAGE, SLASHED, shop

if TYPE_CHECKING:
    from console_site import Site

    from servers import Browser

pytest_plugins = ["servers.fixtures", "console_site"]
pytestmark = pytest.mark.slapd
__all__ = ["shop"]


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Return the folder screenshots go to."""
    chosen = os.environ.get("CONSOLE_SCREENSHOTS")
    return Path(chosen) if chosen else tmp_path


def ids(browser: Chrome) -> list[str]:
    """Return the order ids of the list on the page."""
    return [
        row.find_elements(By.TAG_NAME, "td")[0].text
        for row in browser.find_elements(By.CSS_SELECTOR, "#order-list tbody tr")
    ]


def test_staff_page_through_orders_find_one_by_customer_and_open_an_id_with_a_slash(
    chromium: Browser, browser: Chrome, shop: Site, shots: Path
) -> None:
    browser.get(f"{shop.url}/login")
    browser.find_element(By.NAME, "login").send_keys(ADMIN)
    browser.find_element(By.NAME, "password").send_keys(password(ADMIN))
    browser.find_element(By.CSS_SELECTOR, "form.login button").click()
    WebDriverWait(browser, 30).until(lambda driver: driver.current_url == f"{shop.url}/")
    browser.get(f"{shop.url}/orders")
    first = ids(browser)
    assert len(first) == PAGE
    browser.find_element(By.CSS_SELECTOR, "a[rel=next]").click()
    WebDriverWait(browser, 30).until(lambda driver: driver.current_url.endswith("page=2"))
    assert len(ids(browser)) == PAGE and not set(ids(browser)) & set(first)
    browser.find_element(By.ID, "order-search").send_keys("sonnenhang\n")
    WebDriverWait(browser, 30).until(lambda driver: "q=sonnenhang" in driver.current_url)
    assert SLASHED in ids(browser)
    chromium.screenshot(shots / "orders-search.png")
    browser.find_element(By.LINK_TEXT, SLASHED).click()
    WebDriverWait(browser, 30).until(lambda driver: driver.find_elements(By.ID, "order-id"))
    assert browser.find_element(By.ID, "order-id").text == SLASHED
    assert browser.find_elements(By.ID, "members")
