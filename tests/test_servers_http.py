"""The real HTTP(S) server the HTTP source tests run against (docs/test-servers.md).

Each test drives the server over loopback sockets with httpx, as the HTTP
source will: validators and 304, bearer and basic auth, and every fault mode,
with the request log proving what the client sent.
"""

from __future__ import annotations

import json
import threading

import httpx
import pytest

from servers import (
    Delay,
    Drop,
    NotJSON,
    RecordedRequest,
    Reply,
    SlowBody,
    SourceServer,
    Status,
    Truncate,
)
from servers.process import port_is_open

pytest_plugins = ["servers.fixtures"]

EXPORT = {"customers": [{"id": "C1", "name": "Druckerei Nord & Söhne"}], "persons": []}


def test_an_unchanged_document_is_answered_304_by_etag_and_by_date(
    http_source: SourceServer,
) -> None:
    document = http_source.publish("/export.json", EXPORT)
    url = http_source.url_for("/export.json")

    with httpx.Client(timeout=5) as client:
        first = client.get(url)
        by_etag = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
        by_date = client.get(url, headers={"If-Modified-Since": first.headers["Last-Modified"]})
        other_etag = client.get(url, headers={"If-None-Match": '"something-else"'})
        http_source.publish("/export.json", {**EXPORT, "persons": [{"id": "P1"}]})
        changed = client.get(url, headers={"If-None-Match": first.headers["ETag"]})

    assert first.status_code == 200
    assert first.json() == EXPORT
    assert first.headers["Content-Type"] == "application/json"
    assert first.headers["ETag"] == document.etag
    assert (by_etag.status_code, by_etag.content) == (304, b"")
    assert by_etag.headers["ETag"] == document.etag
    assert (by_date.status_code, by_date.content) == (304, b"")
    assert other_etag.status_code == 200
    assert changed.status_code == 200
    assert changed.json()["persons"] == [{"id": "P1"}]
    assert changed.headers["ETag"] != document.etag
    sent = [request.header("If-None-Match") for request in http_source.requests]
    assert sent == [None, document.etag, None, '"something-else"', document.etag]


def test_head_has_the_headers_only_an_unknown_path_is_404_and_a_post_405(
    http_source: SourceServer,
) -> None:
    document = http_source.publish("/export.json", EXPORT)

    with httpx.Client(timeout=5) as client:
        head = client.head(http_source.url_for("/export.json"))
        unknown = client.get(http_source.url_for("/other.json"))
        posted = client.post(http_source.url_for("/export.json"), content=b"{}")

    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["Content-Length"] == str(len(document.body))
    assert head.headers["ETag"] == document.etag
    assert unknown.status_code == 404
    assert posted.status_code == 405
    assert posted.headers["Allow"] == "GET, HEAD"
    assert http_source.requests[-1].body == b"{}"


def test_a_bearer_token_is_required_and_logged_as_sent(http_source: SourceServer) -> None:
    http_source.publish("/export.json", EXPORT)
    http_source.require_bearer("t0ken-for-the-shop")
    url = http_source.url_for("/export.json")

    with httpx.Client(timeout=5) as client:
        missing = client.get(url)
        wrong = client.get(url, headers={"Authorization": "Bearer another"})
        right = client.get(url, headers={"Authorization": "Bearer t0ken-for-the-shop"})

    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="portal-sync-test"'
    assert wrong.status_code == 401
    assert right.status_code == 200
    assert right.json() == EXPORT
    assert [request.header("Authorization") for request in http_source.requests] == [
        None,
        "Bearer another",
        "Bearer t0ken-for-the-shop",
    ]


def test_basic_auth_is_required_and_a_wrong_password_gets_401(
    http_source: SourceServer,
) -> None:
    http_source.publish("/export.json", EXPORT)
    http_source.require_basic("prinect", "Export-Secret-1")
    url = http_source.url_for("/export.json")

    with httpx.Client(timeout=5) as client:
        missing = client.get(url)
        wrong = client.get(url, auth=("prinect", "nope"))
        right = client.get(url, auth=("prinect", "Export-Secret-1"))

    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith('Basic realm="portal-sync-test"')
    assert wrong.status_code == 401
    assert right.status_code == 200
    assert (
        http_source.requests[-1].header("Authorization") == "Basic cHJpbmVjdDpFeHBvcnQtU2VjcmV0LTE="
    )


def test_a_status_fault_for_the_next_two_requests_then_the_document(
    http_source: SourceServer,
) -> None:
    http_source.publish("/export.json", EXPORT)
    http_source.fault(Status(500), times=2)

    with httpx.Client(timeout=5) as client:
        codes = [client.get(http_source.url_for("/export.json")).status_code for _ in range(3)]

    assert codes == [500, 500, 200]
    assert len(http_source.requests) == 3


def test_a_delay_before_the_headers_makes_a_short_read_timeout_expire(
    http_source: SourceServer,
) -> None:
    http_source.publish("/export.json", EXPORT)
    url = http_source.url_for("/export.json")
    http_source.fault(Delay(5))

    with pytest.raises(httpx.ReadTimeout):
        httpx.get(url, timeout=httpx.Timeout(5, read=0.3))

    http_source.fault(Delay(0.3))
    assert httpx.get(url, timeout=5).json() == EXPORT


def test_a_slow_body_expires_a_read_timeout_between_chunks_or_arrives_whole(
    http_source: SourceServer,
) -> None:
    big = {"persons": [{"id": f"P{n}", "login": f"user{n}"} for n in range(40)]}
    document = http_source.publish("/export.json", big)
    url = http_source.url_for("/export.json")
    http_source.fault(SlowBody(interval=0.5, chunk=256))

    with (
        httpx.Client(timeout=httpx.Timeout(5, read=0.2)) as client,
        client.stream("GET", url) as response,
    ):
        assert response.status_code == 200
        with pytest.raises(httpx.ReadTimeout):
            response.read()

    http_source.fault(SlowBody(interval=0.01, chunk=256))
    with httpx.Client(timeout=5) as client, client.stream("GET", url) as response:
        chunks = list(response.iter_raw())
    assert b"".join(chunks) == document.body
    assert len(chunks) > 1


def test_a_body_shorter_than_its_content_length_is_a_protocol_error(
    http_source: SourceServer,
) -> None:
    document = http_source.publish("/export.json", EXPORT)
    http_source.fault(Truncate(sent=10))

    with (
        httpx.Client(timeout=5) as client,
        client.stream("GET", http_source.url_for("/export.json")) as response,
    ):
        assert response.headers["Content-Length"] == str(len(document.body))
        with pytest.raises(httpx.RemoteProtocolError, match=r"incomplete|peer closed"):
            response.read()


def test_a_body_that_is_not_json_is_served_with_the_json_content_type(
    http_source: SourceServer,
) -> None:
    http_source.publish("/export.json", EXPORT)
    http_source.fault(NotJSON())

    response = httpx.get(http_source.url_for("/export.json"), timeout=5)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_a_dropped_connection_gets_no_answer_at_all(http_source: SourceServer) -> None:
    http_source.publish("/export.json", EXPORT)
    http_source.fault(Drop())

    with pytest.raises(httpx.RemoteProtocolError, match="without sending"):
        httpx.get(http_source.url_for("/export.json"), timeout=5)
    assert [request.path for request in http_source.requests] == ["/export.json"]


def test_https_is_trusted_only_with_the_test_ca_and_only_under_its_name(
    https_source: SourceServer,
) -> None:
    https_source.publish("/export.json", EXPORT)
    url = https_source.url_for("/export.json")
    assert url.startswith("https://localhost:")

    with httpx.Client(verify=https_source.ssl_context(), timeout=5) as client:
        try:
            answer = client.get(url)
        except httpx.ConnectError as exc:  # seen once under load: say what the server saw
            raise AssertionError(f"{exc}; the server recorded {https_source.errors}") from exc
        assert answer.json() == EXPORT
        by_address = f"https://127.0.0.1:{https_source.port}/export.json"
        with pytest.raises(httpx.ConnectError, match=r"IP address mismatch|doesn't match"):
            client.get(by_address)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(url, timeout=5)
    assert https_source.ca_file.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert [request.path for request in https_source.requests] == ["/export.json"]


def test_a_server_stops_cleanly_while_a_slow_answer_is_in_flight() -> None:
    server = SourceServer()
    server.start()
    port = server.port
    server.publish("/export.json", EXPORT)
    server.fault(Delay(60))
    failures: list[BaseException] = []

    def fetch() -> None:
        try:
            httpx.get(server.url_for("/export.json"), timeout=30)
        except httpx.HTTPError as exc:
            failures.append(exc)

    client = threading.Thread(target=fetch)
    client.start()
    while not server.requests:
        threading.Event().wait(0.01)
    threads = {thread.name for thread in threading.enumerate()}

    server.stop()
    client.join(10)

    assert not client.is_alive()
    assert [type(exc) for exc in failures] == [httpx.RemoteProtocolError]
    assert not port_is_open(port)
    assert f"http-source-{port}" in threads
    assert f"http-source-{port}" not in {thread.name for thread in threading.enumerate()}


def test_a_route_that_raises_answers_500_and_names_the_error(http_source: SourceServer) -> None:
    def broken(request: RecordedRequest) -> Reply:
        raise KeyError("query")

    http_source.route("POST", "/search", broken)

    response = httpx.post(http_source.url_for("/search"), data={"name": "x"}, timeout=5)

    assert response.status_code == 500
    assert "KeyError('query')" in response.text
    assert http_source.errors == ["route POST /search: KeyError('query')"]
