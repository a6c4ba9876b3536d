"""The source settings and `--source` as an administrator uses them: file, SQL and HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sync.errors import ConfigurationError
from sync.settings import load_settings
from sync.sources.reader import source_override

from directory_view import users
from servers import SourceServer

pytest_plugins = ["servers.fixtures", "sql_workflow"]

EXAMPLES = Path(__file__).parents[2] / "config" / "examples"
SEED = json.loads((EXAMPLES / "seed-scenario.json").read_text("utf-8"))


def portal_sync(args, server, tmp_path, config="", **env):
    """Run the command line with a settings file of the test slapd, plus `config` lines."""
    path = tmp_path / "portal-sync.toml"
    path.write_text(
        f'state_dir = "{tmp_path / "state"}"\n'
        f'[ldap]\nurl = "{server.url}"\nbind_dn = "{server.root_dn}"\n'
        f'bind_password = "{server.root_pw}"\nbase_dn = "{server.suffix}"\n' + config,
        encoding="utf-8",
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_SYNC_")}
    return subprocess.run(
        [sys.executable, "-m", "sync", "--config", str(path), *args],
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("export.json", {"kind": "file", "path": Path("export.json")}),
        (
            "/srv/exports/customers.yaml",
            {"kind": "file", "path": Path("/srv/exports/customers.yaml")},
        ),
        (
            "https://mis.example/export.json",
            {"kind": "http", "http": {"url": "https://mis.example/export.json"}},
        ),
        ("HTTP://mis.example/x", {"kind": "http", "http": {"url": "HTTP://mis.example/x"}}),
        (
            "postgresql+psycopg://reader@db/workflow",
            {"kind": "sql", "sql": {"url": "postgresql+psycopg://reader@db/workflow"}},
        ),
        (
            "sqlite:////srv/workflow.db",
            {"kind": "sql", "sql": {"url": "sqlite:////srv/workflow.db"}},
        ),
    ],
)
def test_source_accepts_a_path_or_a_url(value, expected):
    assert source_override(value) == expected


def test_a_kind_without_its_url_is_refused_at_start():
    with pytest.raises(ConfigurationError, match=r"source.sql.url is not set"):
        load_settings(source={"kind": "sql"})
    with pytest.raises(ConfigurationError, match=r"no http\(s\):// URL"):
        load_settings(source={"kind": "http", "http": {"url": "ftp://x"}})


def test_run_source_takes_an_http_url_and_keeps_the_token_of_the_settings_file(
    slapd, tmp_path, http_source: SourceServer
):
    http_source.publish("/export.json", SEED)
    http_source.require_bearer("Cli-Token-33")
    config = '[source.http]\ntoken = "Cli-Token-33"\n'
    url = http_source.url_for("/export.json")
    result = portal_sync(["run", "--source", url], slapd, tmp_path, config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "cdubois" in users(slapd, "ou=external")
    assert "Cli-Token-33" not in result.stdout + result.stderr


def test_check_reads_the_sql_source_and_says_what_it_found(slapd, tmp_path, workflow_pg):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "source__sql__password").write_text(workflow_pg.password, encoding="utf-8")
    config = (
        f'[source]\nkind = "sql"\n[source.sql]\nurl = "{workflow_pg.url}"\n'
        f'queries = "{EXAMPLES / "sql" / "queries.toml"}"\n'
    )
    result = portal_sync(["check"], slapd, tmp_path, config, PORTAL_SYNC_SECRETS_DIR=str(secrets))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "source: ok (SQL postgresql+psycopg://" in result.stdout
    assert "customer 3, external 6, internal 3, order 4, role 3" in result.stdout
    assert "read: customers 4, contact_types 8, persons 8" in result.stdout
    assert workflow_pg.password not in result.stdout + result.stderr
    assert users(slapd, "ou=external") == set()


def test_run_with_a_wrong_database_password_exits_4_and_never_prints_it(
    slapd, tmp_path, workflow_pg
):
    config = (
        f'[source]\nkind = "sql"\n[source.sql]\nurl = "{workflow_pg.url}"\npassword = "Wrong-Pw-8812"\n'
        f'queries = "{EXAMPLES / "sql" / "queries.toml"}"\n'
    )
    result = portal_sync(["run"], slapd, tmp_path, config)
    assert result.returncode == 4, result.stdout + result.stderr
    assert "password authentication failed" in result.stderr
    assert "Wrong-Pw-8812" not in result.stdout + result.stderr
