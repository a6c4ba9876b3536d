"""A password written in source.sql.url is accepted, used, and never shown."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sync.ldap.localserver import LocalServer

pytest_plugins = ["servers.fixtures", "sql_workflow"]

QUERIES = Path(__file__).parents[2] / "config" / "examples" / "sql" / "queries.toml"


def portal_sync(slapd: LocalServer, tmp_path: Path, url: str, *argv: str):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_SYNC_")}
    env.update(
        PORTAL_SYNC_LDAP__URL=slapd.url,
        PORTAL_SYNC_LDAP__BIND_DN=slapd.root_dn,
        PORTAL_SYNC_LDAP__BIND_PASSWORD=slapd.root_pw,
        PORTAL_SYNC_LDAP__BASE_DN=slapd.suffix,
        PORTAL_SYNC_STATE_DIR=str(tmp_path / "state"),
        PORTAL_SYNC_SOURCE__KIND="sql",
        PORTAL_SYNC_SOURCE__SQL__URL=url,
        PORTAL_SYNC_SOURCE__SQL__QUERIES=str(QUERIES),
    )
    return subprocess.run(
        [sys.executable, "-m", "sync", "--log-level", "DEBUG", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def with_password(workflow, password: str, database: str | None = None) -> str:
    url = workflow.url.replace("@", f":{password}@", 1)
    if database is not None:
        url = url.rsplit("/", 1)[0] + "/" + database
    return url


@pytest.mark.parametrize("command", [("run", "--json"), ("check",), ("run", "--dry-run")])
def test_a_password_in_the_url_is_used_and_never_shown(slapd, tmp_path, workflow_pg, command):
    done = portal_sync(slapd, tmp_path, with_password(workflow_pg, workflow_pg.password), *command)
    assert done.returncode == 0, done.stderr
    assert workflow_pg.password not in done.stdout + done.stderr


def test_a_wrong_password_in_the_url_is_refused_and_not_shown(slapd, tmp_path, workflow_pg):
    done = portal_sync(slapd, tmp_path, with_password(workflow_pg, "Wrong-Secret-91"), "run")
    assert done.returncode == 4
    assert "password authentication failed" in done.stderr
    assert "Wrong-Secret-91" not in done.stdout + done.stderr


def test_an_unknown_database_in_a_url_with_a_password_does_not_show_it(
    slapd, tmp_path, workflow_pg
):
    url = with_password(workflow_pg, workflow_pg.password, "no_such_database")
    done = portal_sync(slapd, tmp_path, url, "run")
    assert done.returncode == 4
    assert "no_such_database" in done.stderr
    assert workflow_pg.password not in done.stdout + done.stderr
