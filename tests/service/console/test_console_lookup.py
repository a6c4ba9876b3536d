"""Finding things in the console: pages of a fixed size, search, odd ids, names, errors in words.

httpx against the daemon's real console, over the seed scenario plus many
orders of one customer (more than a page), an order id with a "/", ids and
logins holding a right-to-left override, and an internal user in error.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import quote

import httpx
import pytest
from console_values import ADMIN, password
from daemons import wait_for
from ldap3 import Connection, Server

if TYPE_CHECKING:
    from console_site import Site

pytest_plugins = ["console_site"]
pytestmark = pytest.mark.slapd

PAGE = 50
MANY = 120
"""Orders added to customer 10001, named _P_000 to _P_119."""
SLASHED = "2026/0815"
RTL_ORDER = "RTL\u202eDI"
RTL_LOGIN = "rtl\u202eop"
TAKEN = "_20261130_009"
"""An order whose group's DN an entry not of portal-sync holds: the directory refuses the group."""
TWIN = "tom.weber"
"""The login an added internal user (U-77) claims as well: a record error of an internal user."""


def log_in(client: httpx.Client) -> None:
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token, page.text
    answer = client.post(
        "/login", data={"csrf": token.group(1), "login": ADMIN, "password": password(ADMIN)}
    )
    assert answer.status_code == 303, answer.text


def csrf_of(client: httpx.Client, path: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert found
    return found.group(1)


@pytest.fixture(scope="module")
def shop(site: Site) -> Site:
    """Publish the extra records and let the daemon sync them once."""
    document = copy.deepcopy(site.document)
    document["orders"] += [
        {
            "id": f"_P_{n:03d}",
            "name": f"Prospekt {n}",
            "customer": "10001",
            "portal_visible": True,
        }
        for n in range(MANY)
    ]
    document["orders"] += [
        {
            "id": SLASHED,
            "name": "Job mit Schrägstrich",
            "customer": "10003",
            "portal_visible": True,
        },
        {"id": RTL_ORDER, "name": "Gespiegelt", "customer": "10003", "portal_visible": True},
        {"id": TAKEN, "name": "Besetzt", "customer": "10003", "portal_visible": True},
    ]
    server = site.server
    root = Connection(Server(server.url), server.root_dn, server.root_pw, auto_bind=True)
    squatter = f"cn=order-{TAKEN},ou=orders,ou=groups,{server.suffix}"
    member = f"uid=pbraun,ou=external,{server.suffix}"
    assert root.add(squatter, ["groupOfNames"], {"member": [member]}), root.result
    document["customers"][2]["contact_types"].append({"id": "ct-rtl", "name": "Gegen\u202eläufig"})
    document["customers"][2]["persons"].append(
        {
            "id": "P-21",
            "first_name": "Rita",
            "last_name": "Links",
            "contact_types": ["ct-rtl"],
            "account": {"login": RTL_LOGIN, "enabled": True},
        }
    )
    document["internal_users"].append(
        {
            "id": "U-77",
            "login": TWIN,
            "first_name": "Tom",
            "last_name": "Zwilling",
            "groups": ["Prepress"],
            "enabled": True,
        }
    )
    site.publish(document)
    with httpx.Client(base_url=site.url, follow_redirects=False, timeout=60) as client:
        log_in(client)
        runs = site.runs()
        assert client.post("/sync", data={"csrf": csrf_of(client, "/")}).status_code == 303
        wait_for(lambda: site.runs() > runs, "the run with the extra records", timeout=120)
    return site


@pytest.fixture
def client(shop: Site) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shop.url, follow_redirects=False, timeout=60) as staff:
        log_in(staff)
        yield staff


def order_links(page: str) -> list[str]:
    """Return the order pages a list links to, in its table's order."""
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r'<td><a href="/orders/([^"]+)">', body)


def test_the_order_list_is_a_page_of_fixed_size_with_a_next_page(client: httpx.Client) -> None:
    first = client.get("/orders")
    assert first.status_code == 200
    shown = order_links(first.text)
    assert len(shown) == PAGE
    assert 'href="/orders?page=2"' in first.text
    second = order_links(client.get("/orders?page=2").text)
    assert len(second) == PAGE and not set(shown) & set(second)
    last = order_links(client.get("/orders?page=3").text)
    total = 6 + 1 + MANY + 3
    assert len(last) == total - 2 * PAGE
    assert client.get("/orders?page=99").status_code == 200


def test_orders_are_found_by_customer_name_login_and_person(client: httpx.Client) -> None:
    by_name = order_links(client.get("/orders", params={"q": "sonnenhang"}).text)
    assert set(by_name) == {
        "_20261121_003",
        "_20261121_004",
        quote(SLASHED, safe=""),
        quote(RTL_ORDER, safe=""),
        TAKEN,
    }
    by_login = order_links(client.get("/orders", params={"q": "pbraun"}).text)
    assert set(by_login) == set(by_name)
    by_person = order_links(client.get("/orders", params={"q": "Peter Braun"}).text)
    assert set(by_person) == set(by_name)
    by_part = order_links(client.get("/orders", params={"q": "_P_11"}).text)
    assert set(by_part) == {f"_P_11{n}" for n in range(10)}
    many = client.get("/orders", params={"q": "Lumière"})
    assert len(order_links(many.text)) == PAGE
    assert "page=2" in many.text and "q=Lumi%C3%A8re" in many.text


def test_customers_are_found_by_name_and_person(client: httpx.Client) -> None:
    page = client.get("/customers", params={"q": "silva"})
    assert page.status_code == 200
    assert 'href="/customers/10002"' in page.text
    assert 'href="/customers/10001"' not in page.text
    assert 'href="/customers/10003"' not in page.text


def test_a_customer_page_pages_its_orders(client: httpx.Client) -> None:
    page = client.get("/customers/10001")
    assert page.status_code == 200
    shown = re.findall(r'<a href="/orders/(_P_\d+)">', page.text)
    assert len(shown) < PAGE
    assert 'href="/orders?customer=10001"' in page.text
    listed = client.get("/orders?customer=10001")
    assert len(order_links(listed.text)) == PAGE


def test_an_order_id_with_a_slash_opens_its_page(client: httpx.Client) -> None:
    listed = client.get("/orders", params={"q": "sonnenhang"}).text
    assert f'href="/orders/{quote(SLASHED, safe="")}"' in listed
    page = client.get(f"/orders/{quote(SLASHED, safe='')}")
    assert page.status_code == 200
    assert f'<span id="order-id">{SLASHED}</span>' in page.text
    assert "Job mit Schrägstrich" in page.text
    assert 'id="members"' in page.text and "pbraun" in page.text
    found = client.get("/orders", params={"q": SLASHED})
    assert found.status_code == 303
    assert found.headers["location"] == f"/orders/{quote(SLASHED, safe='')}"


@pytest.mark.parametrize(
    "path", ["/users/no.such.login", "/orders/NO-SUCH-ORDER", "/customers/99999", "/no/such/page"]
)
def test_unknown_records_answer_404_on_the_console_page(client: httpx.Client, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 404
    assert '<link rel="stylesheet" href="/static/console.css">' in page.text
    assert "<h1>Not found</h1>" in page.text or 'id="no-user"' in page.text


def test_a_slashed_path_that_is_no_record_is_a_styled_404(client: httpx.Client) -> None:
    page = client.get("/orders/a/b")
    assert page.status_code == 404 and "<h1>Not found</h1>" in page.text


def test_a_user_page_names_the_customers_and_says_what_each_group_grants(
    client: httpx.Client,
) -> None:
    page = client.get("/users/jsilva").text
    assert '<a href="/customers/10002">10002</a> (<bdi>Agência Criativa Lda</bdi>)' in page
    assert (
        'agency <a href="/customers/10002">10002</a> (<bdi>Agência Criativa Lda</bdi>) for '
        'customer <a href="/customers/10001">10001</a> (<bdi>Éditions Lumière</bdi>)'
    ) in page
    groups = page.split('id="groups"', 1)[1].split("</ul>", 1)[0]
    assert 'order <a href="/orders/_20261120_001">_20261120_001</a> of ' in groups
    assert (
        'customer <a href="/customers/10002">10002</a> (<bdi>Agência Criativa Lda</bdi>)' in groups
    )
    assert "<code>cn=" in groups, "the DN stays beside what it grants"


def test_an_order_page_names_the_customers_of_each_reason(client: httpx.Client) -> None:
    page = client.get("/orders/_20261121_003").text
    assert (
        'agency <a href="/customers/10002">10002</a> (<bdi>Agência Criativa Lda</bdi>) for '
        'customer <a href="/customers/10003">10003</a> (<bdi>Weingut Sonnenhang GmbH</bdi>)'
    ) in page


def test_direction_characters_show_in_ids_and_logins(client: httpx.Client) -> None:
    shown = "RTL&lt;U+202E&gt;DI"
    page = client.get(f"/orders/{quote(RTL_ORDER, safe='')}")
    assert page.status_code == 200
    assert f'<span id="order-id">{shown}</span>' in page.text
    assert "\u202e" not in page.text.split("<main>", 1)[1]
    listed = client.get("/orders", params={"q": "sonnenhang"}).text
    assert shown in listed and "RTL\u202eDI" not in listed
    customer = client.get("/customers/10003").text
    assert "rtl&lt;U+202E&gt;op" in customer and RTL_LOGIN not in customer
    assert "Gegen&lt;U+202E&gt;läufig" in customer and "\u202e" not in customer.split("<main>")[1]
    user = client.get(f"/users/{quote(RTL_LOGIN, safe='')}")
    assert user.status_code == 200
    assert '<span id="login">rtl&lt;U+202E&gt;op</span>' in user.text
    hostile = client.get("/customers/10666").text
    types = hostile.split('id="contact-types"', 1)[1].split("</ul>", 1)[0]
    type_name = types.split("<li><bdi>", 1)[1].split("</bdi>:", 1)[0]
    assert type_name.endswith("&lt;U+202E&gt;evil"), "a contact type's name shows its controls"


def test_an_internal_users_record_error_links_to_its_page(client: httpx.Client) -> None:
    overview = client.get("/").text
    errors = overview.split('id="errors"', 1)[1].split("</section>", 1)[0]
    assert 'href="/users/tom.weber">internal user U-77' in errors, errors


def test_an_order_whose_group_the_directory_refused_says_so(client: httpx.Client) -> None:
    page = client.get(f"/orders/{TAKEN}").text
    assert "The directory agrees with the source rules" not in page
    refused = page.split('id="refused"', 1)[1].split("</ul>", 1)[0]
    assert "the directory refused the last run's change of its group: collision" in refused
    assert "the directory refused the group in the last run" in page
