"""The console in a real browser: headless Chromium against the daemon on a real slapd.

Screenshots of each page go to `tmp_path`, or to the folder named by
CONSOLE_SCREENSHOTS (how docs/console.md's pictures are made).
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from console_values import ADMIN, EXTERNAL, HOSTILE, HOSTILE_ID, password
from daemons import wait_for
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

if TYPE_CHECKING:
    from console_site import Site

    from servers import Browser

pytest_plugins = ["servers.fixtures", "console_site"]
pytestmark = pytest.mark.slapd

REFUSED = "Login refused: unknown user, wrong password, or not allowed to use the console."


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Return the folder screenshots go to."""
    chosen = os.environ.get("CONSOLE_SCREENSHOTS")
    return Path(chosen) if chosen else tmp_path


def log_in(browser: Chrome, site: Site, login: str, secret: str) -> None:
    """Fill in and send the login form."""
    browser.get(f"{site.url}/login")
    browser.find_element(By.NAME, "login").send_keys(login)
    browser.find_element(By.NAME, "password").send_keys(secret)
    browser.find_element(By.CSS_SELECTOR, "form.login button").click()
    WebDriverWait(browser, 30).until(
        lambda driver: (
            driver.current_url != f"{site.url}/login" or driver.find_elements(By.ID, "message")
        )
    )


def rows(browser: Chrome, table: str) -> list[list[str]]:
    """Return the cells of a table's body rows, as text."""
    return [
        [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        for row in browser.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr")
    ]


@pytest.mark.parametrize(
    ("login", "secret"),
    [(EXTERNAL, password(EXTERNAL)), (ADMIN, "wrong-password")],
    ids=["external-user", "wrong-password"],
)
def test_an_external_user_and_a_wrong_password_are_refused_alike(
    chromium: Browser, browser: Chrome, site: Site, shots: Path, login: str, secret: str
) -> None:
    log_in(browser, site, login, secret)
    assert browser.find_element(By.ID, "message").text == REFUSED
    browser.get(f"{site.url}/")
    assert browser.current_url == f"{site.url}/login"
    chromium.screenshot(shots / f"login-refused-{login}.png")


def test_an_admin_logs_in_and_sees_the_overview(
    chromium: Browser, browser: Chrome, site: Site, shots: Path
) -> None:
    log_in(browser, site, ADMIN, password(ADMIN))
    assert browser.current_url == f"{site.url}/"
    assert browser.find_element(By.CSS_SELECTOR, "#health h2").text == "Health: healthy"
    assert rows(browser, "runs"), "the first run is listed"
    assert rows(browser, "runs")[-1][1] == "success"
    managed = dict(row for row in rows(browser, "managed"))
    assert managed["order"] == "5"
    chromium.screenshot(shots / "overview.png")


def test_an_admin_finds_jsilva_and_sees_the_orders_with_the_agency_reason(
    chromium: Browser, browser: Chrome, site: Site, shots: Path
) -> None:
    log_in(browser, site, ADMIN, password(ADMIN))
    browser.find_element(By.LINK_TEXT, "Users").click()
    WebDriverWait(browser, 30).until(lambda driver: driver.find_elements(By.ID, "user-search"))
    browser.find_element(By.ID, "user-search").send_keys("Silva\n")
    WebDriverWait(browser, 30).until(lambda driver: driver.current_url.endswith("/users/jsilva"))
    assert browser.find_element(By.ID, "login").text == "jsilva"
    assert browser.find_element(By.ID, "kind").text == "external"
    orders = dict(rows(browser, "orders"))
    agency = "agency 10002 (Agência Criativa Lda)"
    assert orders["_20261120_001"] == f"{agency} for customer 10001 (Éditions Lumière)"
    assert orders["_20261120_002"] == "own customer 10002 (Agência Criativa Lda)"
    assert orders["_20261121_003"] == f"{agency} for customer 10003 (Weingut Sonnenhang GmbH)"
    assert "RA_4726" not in orders
    assert "agrees with the source rules" in browser.find_element(By.ID, "drift").text
    chromium.screenshot(shots / "user.png")


def test_an_order_shows_who_may_open_it_and_why(
    chromium: Browser, browser: Chrome, site: Site, shots: Path
) -> None:
    log_in(browser, site, ADMIN, password(ADMIN))
    browser.get(f"{site.url}/orders/_20261121_003")
    members = {login: (kind, why) for login, kind, why in rows(browser, "members")}
    customer = "customer 10003 (Weingut Sonnenhang GmbH)"
    agency = f"agency 10002 (Agência Criativa Lda) for {customer}"
    assert members == {
        "pbraun": ("external", f"own {customer}"),
        "jsilva": ("external", agency),
        "acosta": ("external", agency),
    }
    chromium.screenshot(shots / "order.png")


def test_an_order_without_a_group_says_why(
    chromium: Browser, browser: Chrome, site: Site, shots: Path
) -> None:
    log_in(browser, site, ADMIN, password(ADMIN))
    browser.get(f"{site.url}/orders")
    browser.find_element(By.ID, "order-search").send_keys("_20261121_004\n")
    WebDriverWait(browser, 30).until(lambda driver: driver.current_url.endswith("/_20261121_004"))
    assert browser.find_element(By.ID, "order-id").text == "_20261121_004"
    why = browser.find_element(By.ID, "no-group").text
    assert "not visible on the portal" in why
    assert not browser.find_elements(By.ID, "members")
    chromium.screenshot(shots / "order-without-group.png")
    browser.get(f"{site.url}/orders/_20261122_005")
    assert "customer 10004 has no remote access" in browser.find_element(By.ID, "no-group").text


def test_a_customer_shows_persons_agency_flag_and_orders(
    chromium: Browser, browser: Chrome, site: Site, shots: Path
) -> None:
    log_in(browser, site, ADMIN, password(ADMIN))
    browser.get(f"{site.url}/customers")
    browser.find_element(By.LINK_TEXT, "10002").click()
    WebDriverWait(browser, 30).until(lambda driver: driver.current_url.endswith("/10002"))
    assert browser.find_element(By.ID, "agency-flag").text.startswith("yes")
    persons = {row[0]: row for row in rows(browser, "persons")}
    assert persons["P-10"][1:] == ["João Silva", "Cliente", "jsilva"]
    assert persons["P-11"][2:] == ["Design", "acosta"]
    worked_on = {row[0]: row[2] for row in rows(browser, "agency-orders")}
    assert set(worked_on) == {"_20261120_001", "_20261121_003", "_20261124_666"}
    assert worked_on["_20261120_001"] == "10001 (Éditions Lumière)"
    chromium.screenshot(shots / "customer.png")
    browser.get(f"{site.url}/customers/10001")
    persons = {row[0]: row for row in rows(browser, "persons")}
    assert persons["P-4"][3] == "no account"
    left_out = browser.find_element(By.ID, "left-out").text
    assert "person P-4 (Jean Petit) of customer 10001: no user: no portal account" in left_out
    orders = {row[0]: row[2] for row in rows(browser, "orders")}
    assert orders["_20261120_001"] == "10002 (Agência Criativa Lda)"
    assert orders["RA_4726"] == "none"


def test_a_hostile_customer_name_shows_as_text(
    chromium: Browser, browser: Chrome, site: Site, shots: Path
) -> None:
    log_in(browser, site, ADMIN, password(ADMIN))
    browser.get(f"{site.url}/customers/{HOSTILE_ID}")
    assert browser.find_element(By.ID, "customer-name").get_attribute("textContent") == HOSTILE
    assert not browser.find_elements(By.TAG_NAME, "script")
    persons = rows(browser, "persons")
    assert persons[0][3] == "hostile"
    group = browser.find_element(By.CSS_SELECTOR, "dd code").text
    assert "<U+202E>evil,ou=customers,ou=groups," in group, "an override cannot reverse a DN"
    browser.get(f"{site.url}/orders/_20261124_666")
    assert not browser.find_elements(By.TAG_NAME, "script")
    assert HOSTILE in browser.find_element(By.TAG_NAME, "dd").get_attribute("textContent")
    browser.get(f"{site.url}/customers/{HOSTILE_ID}")
    chromium.screenshot(shots / "hostile-customer.png")


def test_sync_now_after_a_source_change_shows_the_result_and_the_new_person(
    chromium: Browser, browser: Chrome, site: Site, shots: Path
) -> None:
    document = copy.deepcopy(site.document)
    document["customers"][0]["persons"].append(
        {
            "id": "P-5",
            "first_name": "Nora",
            "last_name": "Neuve",
            "contact_types": ["ct-fab"],
            "account": {"login": "nneuve", "enabled": True},
        }
    )
    log_in(browser, site, ADMIN, password(ADMIN))
    browser.get(f"{site.url}/users/nneuve")
    assert browser.find_elements(By.ID, "no-user"), browser.page_source
    runs = site.runs()
    site.publish(document)
    browser.get(f"{site.url}/")
    browser.find_element(By.ID, "sync-now").click()
    WebDriverWait(browser, 30).until(lambda driver: driver.current_url == f"{site.url}/sync")
    WebDriverWait(browser, 30).until(lambda driver: driver.find_elements(By.ID, "sync-outcome"))
    assert browser.find_element(By.ID, "sync-outcome").text == "success"
    assert "add" in browser.find_element(By.ID, "sync-result").text
    assert site.runs() > runs
    chromium.screenshot(shots / "sync-now.png")
    browser.get(f"{site.url}/users/nneuve")
    assert browser.find_element(By.ID, "kind").text == "external"
    assert browser.find_element(By.ID, "customers").text == "10001 (Éditions Lumière)"
    browser.get(f"{site.url}/customers/10001")
    assert "nneuve" in {row[3] for row in rows(browser, "persons")}
    wait_for(lambda: "run requested: console: admin.print" in site.daemon.log, "the log line")
