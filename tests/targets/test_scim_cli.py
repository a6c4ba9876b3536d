"""`portal-sync run`, `run --dry-run --json` and `check` with the SCIM target, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from sync.cli import main

from servers.scim import ScimProxy

pytest_plugins = ["servers.scim_fixtures"]


def config(tmp_path: Path, seed: dict, scim: ScimProxy, **scim_options: str) -> Path:
    source = tmp_path / "source.json"
    source.write_text(json.dumps(seed, ensure_ascii=False), encoding="utf-8")
    options = "\n".join(
        f"{name} = {value}" if value in ("true", "false") else f'{name} = "{value}"'
        for name, value in scim_options.items()
    )
    path = tmp_path / "portal-sync.toml"
    path.write_text(
        f'targets = ["scim"]\nstate_dir = "{tmp_path / "state"}"\n'
        f'[source]\npath = "{source}"\n[scim]\nurl = "{scim.url}"\n{options}\n',
        encoding="utf-8",
    )
    return path


def test_dry_run_json_lists_the_requests_and_sends_no_write(scim, seed, tmp_path, capsys):
    code = main(["--config", str(config(tmp_path, seed, scim)), "run", "--dry-run", "--json"])

    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["target"] == "scim" and report["dry_run"] is True
    assert report["counts"] == {"create-user": 9, "create-group": 10}
    first = report["requests"][0]
    assert (first["method"], first["path"], first["key"]) == ("POST", "/Users", "internal:U-1")
    assert first["body"]["userName"] == "anna.schmidt"
    order = next(r for r in report["requests"] if r["key"] == "order:RA_4726")
    assert order["body"]["members"][0] == {"value": "<id of external:P-1>"}
    assert scim.writes() == []


def test_run_pushes_and_a_second_run_reports_no_change(scim, seed, tmp_path, capsys):
    path = str(config(tmp_path, seed, scim))

    first = main(["--config", path, "run"])
    capsys.readouterr()
    second = main(["--config", path, "run"])

    assert (first, second) == (0, 0)
    assert capsys.readouterr().out.startswith("portal-sync (scim): success in")
    assert [s.path for s in scim.writes()] == ["/v2/Bulk", "/v2/Bulk"]


def test_check_reads_the_service_provider_config(scim, seed, tmp_path, capsys):
    code = main(["--config", str(config(tmp_path, seed, scim)), "check"])

    out = capsys.readouterr().out
    assert code == 0
    assert f"scim: ok ({scim.url}, authentication: none)" in out
    assert "  patch: yes" in out
    assert "  bulk: yes, at most 1000 operations" in out
    assert "  filter: yes, maxResults 1000" in out
    assert "directory:" not in out


def test_a_refused_token_is_exit_7_naming_the_setting(scim, seed, tmp_path, capsys):
    scim.token = "the-right-one"

    code = main(["--config", str(config(tmp_path, seed, scim, token="a-wrong-one")), "run"])

    err = capsys.readouterr().err
    assert code == 7
    assert "target-unavailable" in err and "HTTP 401" in err
    assert "token in [scim] of" in err
    assert "a-wrong-one" not in err
    assert scim.writes() == []


def test_an_oauth_token_refused_mid_run_is_renewed_once(scim, seed, tmp_path, capsys):
    token_url = scim.url.removesuffix("/v2") + "/token"
    options = {"token_url": token_url, "client_id": "portal-sync", "client_secret": "s3cret"}
    path = str(config(tmp_path, seed, scim, bulk="false", **options))
    scim.token = "before-the-run"
    scim.expire_after = 5  # the token the run fetched expires after five requests

    code = main(["--config", path, "run"])

    assert code == 0, capsys.readouterr().err
    assert scim.issued == 2
    refused = [s for s in scim.seen if s.status == 401]
    assert len(refused) == 1
    retried = scim.seen[scim.seen.index(refused[0]) + 2]  # after the new token
    assert (retried.method, retried.path, retried.body) == (
        refused[0].method,
        refused[0].path,
        refused[0].body,
    )
    assert "grant_type=client_credentials" in scim.seen[0].body
    assert len({s.body["externalId"] for s in scim.writes() if s.status == 201}) == 19


def test_access_answers_from_the_provider(scim, seed, tmp_path, capsys):
    path = str(config(tmp_path, seed, scim))
    assert main(["--config", path, "run"]) == 0
    capsys.readouterr()

    user = main(["--config", path, "access", "user", "jsilva"])
    user_out = capsys.readouterr().out
    order = main(["--config", path, "access", "order", "_20261121_003", "--target", "scim"])
    order_out = capsys.readouterr().out
    unknown = main(["--config", path, "access", "order", "_20261121_004"])

    assert (user, order, unknown) == (0, 0, 1)
    assert "kind:      external" in user_out
    assert "customer:  X10002-Agência Criativa Lda" in user_out
    assert "orders:    3" in user_out and "  order-_20261121_003" in user_out
    assert order_out.splitlines()[2:] == [
        "users:     3",
        "  acosta (external)",
        "  jsilva (external)",
        "  pbraun (external)",
    ]
