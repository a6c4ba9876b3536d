"""Paths in a settings file are read from the file's folder; the environment's from the cwd."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from daemons import Daemon, environment, uids, wait_for

from sync.errors import ConfigurationError
from sync.settings import load_settings

EXAMPLES = Path(__file__).parents[1] / "config" / "examples"

FILE_WITH_RELATIVE_PATHS = """\
state_dir = "state"

[source]
kind = "sql"
path = "customers.json"

[source.sql]
url = "sqlite:////nowhere/workflow.db"
queries = "queries.toml"

[source.http]
ca_file = "tls/mis-ca.pem"

[mapping]
path = "mappings/mine.toml"

[ldap]
ca_file = "tls/ca.pem"
client_cert_file = "tls/client.pem"
client_key_file = "tls/client.key"

[passwords]
initial_file = "../spool/initial.txt"

[console]
ended_sessions = "shared/ended.json"
"""


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """Run every test without PORTAL_SYNC_* variables."""
    for name in list(os.environ):
        if name.upper().startswith("PORTAL_SYNC_") or name == "CREDENTIALS_DIRECTORY":
            monkeypatch.delenv(name)


@pytest.fixture
def etc(tmp_path: Path) -> Path:
    folder = tmp_path / "etc" / "portal-sync"
    folder.mkdir(parents=True)
    (folder / "portal-sync.toml").write_text(FILE_WITH_RELATIVE_PATHS, encoding="utf-8")
    return folder


def test_every_relative_path_in_a_settings_file_is_read_from_the_files_folder(
    etc, tmp_path, monkeypatch
):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    settings = load_settings(etc / "portal-sync.toml")
    assert settings.state_dir == etc / "state"
    assert settings.source.path == etc / "customers.json"
    assert settings.source.sql.queries == etc / "queries.toml"
    assert settings.source.http.ca_file == etc / "tls" / "mis-ca.pem"
    assert settings.mapping.path == str(etc / "mappings" / "mine.toml")
    assert settings.ldap.ca_file == etc / "tls" / "ca.pem"
    assert settings.ldap.client_cert_file == etc / "tls" / "client.pem"
    assert settings.ldap.client_key_file == etc / "tls" / "client.key"
    assert settings.passwords.initial_file == tmp_path / "etc" / "spool" / "initial.txt"
    assert settings.console.ended_sessions == etc / "shared" / "ended.json"


def test_a_settings_file_named_by_a_relative_path_still_anchors_its_paths(
    etc, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(Path("etc/portal-sync/portal-sync.toml"))
    assert settings.source.sql.queries == etc / "queries.toml"
    assert settings.source.sql.queries.is_absolute()


def test_a_path_from_the_environment_is_read_from_the_working_directory(etc, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PORTAL_SYNC_SOURCE__SQL__QUERIES", "mine/queries.toml")
    settings = load_settings(etc / "portal-sync.toml")
    assert settings.source.sql.queries == tmp_path / "mine" / "queries.toml"
    assert settings.state_dir == etc / "state", "the file's other paths keep their anchor"


def test_a_shipped_mapping_name_stays_a_name(etc, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PORTAL_SYNC_MAPPING__PATH", "389ds")
    assert load_settings(etc / "portal-sync.toml").mapping.path == "389ds"


def test_an_absolute_path_in_the_file_is_kept(etc, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = FILE_WITH_RELATIVE_PATHS.replace('"queries.toml"', '"/srv/mis/queries.toml"')
    (etc / "portal-sync.toml").write_text(text, encoding="utf-8")
    assert load_settings(etc / "portal-sync.toml").source.sql.queries == Path(
        "/srv/mis/queries.toml"
    )


def test_a_missing_queries_file_is_named_by_its_resolved_path(etc, tmp_path, monkeypatch):
    monkeypatch.chdir("/")
    settings = load_settings(etc / "portal-sync.toml")
    from sync.sources.sql.reader import SqlSource

    with pytest.raises(ConfigurationError) as caught:
        _ = SqlSource(settings.source.sql).queries
    assert f"cannot read the queries file {etc / 'queries.toml'} " in str(caught.value)
    assert f"queries in [source.sql] of {etc / 'portal-sync.toml'}" in str(caught.value)


def test_a_missing_source_document_from_the_environment_is_named_by_its_resolved_path(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "sync", "run", "--dry-run"],
        env={**os.environ, "PORTAL_SYNC_SOURCE__PATH": "export/customers.json"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 4, done.stderr
    assert f"{tmp_path / 'export' / 'customers.json'}: cannot read the source document" in (
        done.stderr
    )


def test_a_missing_settings_file_is_named_by_its_resolved_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError) as caught:
        load_settings(Path("etc/none.toml"))
    assert f"the settings file {tmp_path / 'etc' / 'none.toml'} (--config)" in str(caught.value)


@pytest.mark.slapd
def test_a_daemon_started_from_the_root_folder_finds_the_queries_file_next_to_its_settings(
    slapd, tmp_path
):
    workflow_sqlite = tmp_path / "workflow.db"
    database = sqlite3.connect(workflow_sqlite)
    database.executescript((EXAMPLES / "sql" / "workflow-sqlite.sql").read_text(encoding="utf-8"))
    database.close()
    etc = tmp_path / "etc"
    etc.mkdir()
    shutil.copy(EXAMPLES / "sql" / "queries.toml", etc / "queries.toml")
    (etc / "portal-sync.toml").write_text(
        f'[source]\nkind = "sql"\n\n[source.sql]\nurl = "sqlite:///{workflow_sqlite}"\n'
        'queries = "queries.toml"\npoll_interval = 0\n',
        encoding="utf-8",
    )
    env = environment(slapd, tmp_path / "unused.json", tmp_path / "state")
    del env["PORTAL_SYNC_SOURCE__PATH"]
    env.update(
        PORTAL_SYNC_CONFIG=str(etc / "portal-sync.toml"), PORTAL_SYNC_SCHEDULE__INTERVAL="3600"
    )
    daemon = Daemon(env, tmp_path)
    daemon.workdir = Path("/")
    with daemon:
        wait_for(lambda: "cdubois" in uids(slapd) or not daemon.alive, "the first run")
        assert "cdubois" in uids(slapd), daemon.log
        assert str(etc / "queries.toml") in daemon.log
