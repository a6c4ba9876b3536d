"""The HTTP source against a real HTTP(S) server: the document over the wire, and every failure.

The server (tests/servers/httpserver.py) answers over real loopback
sockets; faults are switched on per test. Each failure must end the run
with the unreadable-source code before the directory is touched, which the
entryCSN of every entry proves.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sync.core.report import ExitCode
from sync.ldap.localserver import LocalServer
from sync.run.sync import run_sync
from sync.settings import Settings, load_settings
from sync.sources.http.reader import HttpSource
from sync.sources.http.settings import HttpSourceSettings

from directory_view import OWN, entries, users, write_stamps
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

pytest_plugins = ["servers.fixtures"]

SEED = json.loads(
    (Path(__file__).parents[2] / "config" / "examples" / "seed-scenario.json").read_text("utf-8")
)
TOKEN = "Export-Token-5d81c0"


@pytest.fixture
def http_settings(slapd: LocalServer, tmp_path: Path) -> Callable[..., Settings]:
    """Return a factory: settings that sync the document at a URL into the test slapd."""

    def make(url: str, max_size: int | str = "512MiB", **http: Any) -> Settings:
        http.setdefault("backoff", 0)
        return load_settings(
            ldap={
                "url": slapd.url,
                "bind_dn": slapd.root_dn,
                "bind_password": slapd.root_pw,
                "base_dn": slapd.suffix,
            },
            source={"kind": "http", "max_size": max_size, "http": {"url": url, **http}},
            state_dir=tmp_path / "state",
        )

    return make


def changed_seed() -> dict[str, Any]:
    """Return the seed with one more person: a run that reads it changes the directory."""
    document = copy.deepcopy(SEED)
    document["customers"][0]["persons"].append(
        {
            "id": "P-5",
            "last_name": "Roux",
            "contact_types": ["ct-achats"],
            "account": {"login": "aroux"},
        }
    )
    return document


def test_the_seed_over_http_gives_the_same_directory_as_the_file(
    slapd, tmp_path, http_source, http_settings
):
    ldap = {
        "url": slapd.url,
        "bind_dn": slapd.root_dn,
        "bind_password": slapd.root_pw,
        "base_dn": slapd.suffix,
    }
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(SEED), encoding="utf-8")
    assert (
        run_sync(
            load_settings(ldap=ldap, source={"path": path}, state_dir=tmp_path / "f")
        ).exit_code
        is ExitCode.SUCCESS
    )
    expected = {dn: attrs for dn, attrs in entries(slapd).items() if not dn.startswith(OWN)}
    from conftest import empty_tree

    empty_tree(slapd)
    http_source.publish("/export.json", SEED)
    report = run_sync(http_settings(http_source.url_for("/export.json")))
    assert report.exit_code is ExitCode.SUCCESS, report.to_text()

    def plain(tree):
        return {
            dn: {k: sorted(v) for k, v in attrs.items() if k not in ("entrycsn", "entryuuid")}
            for dn, attrs in tree.items()
            if not dn.startswith(OWN)
        }

    assert plain(entries(slapd)) == plain(expected)


def test_an_unchanged_export_costs_one_conditional_request_and_no_rebuild(
    slapd, http_source, http_settings, caplog
):
    document = http_source.publish("/export.json", SEED)
    settings = http_settings(http_source.url_for("/export.json"))
    assert run_sync(settings).exit_code is ExitCode.SUCCESS
    first = len(http_source.requests)
    before = write_stamps(slapd)
    caplog.set_level(logging.INFO, logger="portal_sync")
    report = run_sync(settings)
    assert report.exit_code is ExitCode.SUCCESS
    again = http_source.requests[first:]
    assert [request.header("If-None-Match") for request in again] == [document.etag]
    assert "nothing to do" in caplog.text
    assert write_stamps(slapd) == before

    http_source.publish("/export.json", changed_seed())
    assert run_sync(settings).exit_code is ExitCode.SUCCESS
    assert "aroux" in users(slapd, "ou=external")


def test_a_bearer_token_from_the_secrets_is_sent_and_never_shown(
    slapd, tmp_path, http_source, monkeypatch, caplog
):
    http_source.publish("/export.json", SEED)
    http_source.require_bearer(TOKEN)
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "source__http__token").write_text(TOKEN, encoding="utf-8")
    monkeypatch.setenv("PORTAL_SYNC_SECRETS_DIR", str(secrets))
    settings = load_settings(
        ldap={
            "url": slapd.url,
            "bind_dn": slapd.root_dn,
            "bind_password": slapd.root_pw,
            "base_dn": slapd.suffix,
        },
        source={"kind": "http", "http": {"url": http_source.url_for("/export.json")}},
        state_dir=tmp_path / "state",
    )
    caplog.set_level(logging.DEBUG)
    report = run_sync(settings)
    assert report.exit_code is ExitCode.SUCCESS, report.to_text()
    assert "cdubois" in users(slapd, "ou=external")
    assert TOKEN not in report.to_json() + caplog.text + repr(settings)


def test_basic_auth_is_sent(slapd, http_source, http_settings):
    http_source.publish("/export.json", SEED)
    http_source.require_basic("exporter", "Basic-Secret-2")
    settings = http_settings(
        http_source.url_for("/export.json"), username="exporter", password="Basic-Secret-2"
    )
    assert run_sync(settings).exit_code is ExitCode.SUCCESS


def test_the_ca_file_validates_the_server_and_without_it_the_server_is_refused(
    slapd, https_source, http_settings
):
    https_source.publish("/export.json", SEED)
    url = https_source.url_for("/export.json")
    report = run_sync(http_settings(url))
    assert report.exit_code is ExitCode.SOURCE
    assert "not trusted" in report.failure and "ca_file" in report.failure.lower()
    assert users(slapd, "ou=external") == set()
    report = run_sync(http_settings(url, ca_file=https_source.ca_file))
    assert report.exit_code is ExitCode.SUCCESS, report.to_text()
    assert "cdubois" in users(slapd, "ou=external")


FAILURES: dict[str, tuple[Callable[[SourceServer], None], dict[str, Any], str]] = {
    "401": (
        lambda server: server.require_bearer(TOKEN),
        {"token": "Not-The-Token-1"},
        "refused the credentials",
    ),
    "500": (lambda server: server.fault(Status(500)), {"retries": 2}, "500"),
    "a slow server": (
        lambda server: server.fault(Delay(30)),
        {"timeout": 0.3, "retries": 0},
        "no answer within",
    ),
    "a slow body": (
        lambda server: server.fault(SlowBody(30, 64)),
        {"timeout": 0.3, "retries": 0},
        "no answer within",
    ),
    "a truncated body": (lambda server: server.fault(Truncate(200)), {"retries": 1}, "broke off"),
    "a dropped connection": (lambda server: server.fault(Drop()), {"retries": 0}, "broke off"),
    "a body that is not JSON": (
        lambda server: server.fault(NotJSON()),
        {},
        "not a source document",
    ),
    "a missing document": (lambda server: None, {"path": "/gone.json"}, "404"),
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_a_failing_server_ends_the_run_before_the_directory_is_touched(
    slapd, http_source, http_settings, case
):
    http_source.publish("/export.json", SEED)
    assert (
        run_sync(http_settings(http_source.url_for("/export.json"))).exit_code is ExitCode.SUCCESS
    )
    before = write_stamps(slapd)
    http_source.publish("/export.json", changed_seed())
    arrange, options, words = FAILURES[case]
    arrange(http_source)
    url = http_source.url_for(options.pop("path", "/export.json"))
    report = run_sync(http_settings(url, **options))
    assert report.exit_code is ExitCode.SOURCE, report.to_text()
    assert words in report.failure
    assert "Not-The-Token-1" not in report.failure
    assert write_stamps(slapd) == before
    assert "aroux" not in users(slapd, "ou=external")


def test_a_500_is_retried_and_the_next_answer_is_used(slapd, http_source, http_settings):
    http_source.publish("/export.json", SEED)
    http_source.fault(Status(503), times=2)
    report = run_sync(http_settings(http_source.url_for("/export.json"), retries=2))
    assert report.exit_code is ExitCode.SUCCESS, report.to_text()
    assert len(http_source.requests) == 3


def test_an_answer_above_the_size_limit_is_refused(slapd, http_source, http_settings):
    http_source.publish("/export.json", SEED)
    report = run_sync(http_settings(http_source.url_for("/export.json"), max_size=1000))
    assert report.exit_code is ExitCode.SOURCE
    assert "above the limit of 1,000 bytes" in report.failure
    assert users(slapd, "ou=external") == set()


def test_a_server_without_etag_is_asked_by_date_and_its_304_costs_no_body(http_source, tmp_path):

    from servers import Reply

    modified = "Thu, 26 Nov 2026 23:00:00 GMT"
    body = json.dumps(SEED).encode()

    def answer(request: RecordedRequest) -> Reply:
        if request.header("If-Modified-Since") == modified:
            return Reply(304, b"", "application/json")
        return Reply(200, body, "application/json", (("Last-Modified", modified),))

    http_source.route("GET", "/by-date.json", answer)
    settings = HttpSourceSettings(url=http_source.url_for("/by-date.json"))
    first = HttpSource(settings, state_dir=tmp_path).digest()
    source = HttpSource(settings, state_dir=tmp_path)
    assert source.digest() == first != ""
    asked = http_source.requests
    assert [request.header("If-Modified-Since") for request in asked] == [None, modified]
    assert len(source.load().document.customers) == len(SEED["customers"])
    assert source.change_token() == source.change_token() == f" {modified}"
