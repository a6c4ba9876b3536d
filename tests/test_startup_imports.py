"""A command imports what it uses: what `python -m sync ...` loads, as `-X importtime` lists it.

No timing here (the machine may be loaded); the figures are in docs/performance.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from daemons import environment, write_source

SERVICE = {"starlette", "jinja2", "uvicorn", "multipart", "itsdangerous", "limits"}
"""The console's libraries: only `portal-sync daemon` with the console on needs them."""

DAEMON = {"apscheduler", "prometheus_client"}
SQL = {"sqlalchemy", "psycopg"}
HTTP = {"httpx", "httpcore"}
NOT_IN_A_FILE_RUN = SERVICE | DAEMON | SQL | HTTP
NOT_IN_VERSION_OR_HELP = NOT_IN_A_FILE_RUN | {"pydantic", "pydantic_settings", "yaml", "ldap3"}


def modules(args: list[str], env: dict[str, str] | None = None) -> tuple[int, set[str]]:
    """Run `python -X importtime -m sync ARGS`; return its exit code and the modules it loaded."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "sync", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    names = {
        line.split("|")[-1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    names.discard("package")
    return result.returncode, names


def imported(args: list[str], env: dict[str, str] | None = None) -> tuple[int, set[str]]:
    """Run `python -X importtime -m sync ARGS`; return its exit code and the packages it loaded."""
    code, names = modules(args, env)
    return code, {name.split(".")[0] for name in names}


@pytest.mark.parametrize(
    "args",
    [["--version"], ["--help"], ["run", "--help"], ["check", "--help"], ["daemon", "--help"]],
)
def test_version_and_help_load_neither_pydantic_nor_any_library_of_a_run(args):
    code, packages = imported(args)
    assert code == 0
    assert "sync" in packages
    assert packages & NOT_IN_VERSION_OR_HELP == set()


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["run", "--help"]])
def test_version_and_help_load_neither_the_core_nor_the_settings(args):
    code, names = modules(args)
    assert code == 0
    assert sorted(name for name in names if name.startswith(("sync.core", "sync.settings"))) == []


def test_a_run_of_a_file_source_loads_no_console_database_http_or_scheduler(slapd, seed, tmp_path):
    source = tmp_path / "source.json"
    write_source(source, seed)
    env = environment(slapd, source, tmp_path / "state")
    code, packages = imported(["run"], env)
    assert code == 0
    assert "ldap3" in packages and "pydantic" in packages
    assert packages & NOT_IN_A_FILE_RUN == set()


def test_a_check_of_a_file_source_loads_no_console_database_http_or_scheduler(
    slapd, seed, tmp_path
):
    source = tmp_path / "source.json"
    write_source(source, seed)
    env = environment(slapd, source, tmp_path / "state")
    code, packages = imported(["check"], env)
    assert code == 0
    assert packages & NOT_IN_A_FILE_RUN == set()


def test_status_loads_no_console_database_http_or_scheduler(tmp_path):
    env = environment_without_server(tmp_path)
    code, packages = imported(["status"], env)
    assert code == 0
    assert packages & NOT_IN_A_FILE_RUN == set()


def environment_without_server(tmp_path):
    """Return an environment whose only portal-sync setting is the state directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_SYNC_")}
    env["PORTAL_SYNC_STATE_DIR"] = str(tmp_path / "state")
    return env


READER = """
import json, sys
from sync.settings import SourceSettings
from sync.sources.reader import source_of
source_of(SourceSettings.model_validate(json.loads(sys.argv[1])))
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


@pytest.mark.parametrize(
    ("settings", "loaded", "not_loaded"),
    [
        ({"kind": "file", "path": "source.json"}, set(), SQL | HTTP),
        ({"kind": "http", "http": {"url": "https://mis.example/x.json"}}, {"httpx"}, SQL),
        ({"kind": "sql", "sql": {"url": "postgresql://mis@db/shop"}}, {"sqlalchemy"}, HTTP),
    ],
)
def test_each_source_reader_loads_only_its_own_library(settings, loaded, not_loaded, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", READER, json.dumps(settings)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=environment_without_server(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    packages = set(json.loads(result.stdout))
    assert loaded <= packages
    assert packages & (not_loaded | SERVICE | DAEMON) == set()
