"""The command line as an administrator runs it, against a real slapd."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from directory_view import write_stamps


def portal_sync(args, server, source, **env):
    environment = {
        **os.environ,
        "PORTAL_SYNC_LDAP__URL": server.url,
        "PORTAL_SYNC_LDAP__BIND_DN": server.root_dn,
        "PORTAL_SYNC_LDAP__BIND_PASSWORD": server.root_pw,
        "PORTAL_SYNC_LDAP__BASE_DN": server.suffix,
        "PORTAL_SYNC_SOURCE__PATH": str(source),
        "PORTAL_SYNC_STATE_DIR": str(source.parent / "state"),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "sync", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def write(tmp_path, document, name="source.json"):
    path = tmp_path / name
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


def test_run_then_second_run_reports_no_change(slapd, seed, tmp_path):
    source = write(tmp_path, seed)
    first = portal_sync(["run"], slapd, source)
    assert first.returncode == 0, first.stderr
    assert "applied: 19 add, 7 add-container" in first.stdout
    second = portal_sync(["run"], slapd, source)
    assert second.returncode == 0 and "no change" in second.stdout


def test_json_report_counts_operations_and_lists_record_errors(slapd, seed, tmp_path):
    seed["orders"][0]["agency"] = "10003"
    result = portal_sync(["run", "--json"], slapd, write(tmp_path, seed))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["outcome"] == "success-with-record-errors"
    assert report["counts"] == {"add": 18, "add-container": 7}
    assert report["errors"] == [
        {
            "record": "order _20261120_001",
            "problem": "customer 10003 is not flagged as an agency",
            "key": "order:_20261120_001",
        }
    ]


def test_dry_run_prints_the_plan_and_changes_nothing(slapd, seed, tmp_path):
    before = write_stamps(slapd)
    result = portal_sync(["run", "--dry-run"], slapd, write(tmp_path, seed))
    assert result.returncode == 0
    assert "would apply: 19 add, 7 add-container" in result.stdout
    assert "uid=cdubois,ou=external,dc=example,dc=org" in result.stdout
    assert write_stamps(slapd) == before


def test_malformed_document_changes_nothing_and_exits_4(slapd, seed, tmp_path):
    portal_sync(["run"], slapd, write(tmp_path, seed))
    before = write_stamps(slapd)
    broken = tmp_path / "broken.json"
    broken.write_text('{"format_version": 1, "customers": [}')
    result = portal_sync(["run"], slapd, broken)
    assert result.returncode == 4
    assert "broken.json: not valid JSON at line 1, column 37" in result.stderr
    assert write_stamps(slapd) == before


def test_unknown_format_version_exits_4(slapd, seed, tmp_path):
    seed["format_version"] = 2
    result = portal_sync(["run"], slapd, write(tmp_path, seed))
    assert result.returncode == 4 and "unknown format_version 2" in result.stderr


def test_refused_bind_exits_2_and_never_prints_the_password(slapd, seed, tmp_path):
    result = portal_sync(
        ["run"], slapd, write(tmp_path, seed), PORTAL_SYNC_LDAP__BIND_PASSWORD="wrong-Secret-42"
    )
    assert result.returncode == 2
    assert "refused the bind" in result.stderr
    assert "wrong-Secret-42" not in result.stdout + result.stderr


def test_missing_base_dn_exits_2_and_says_what_to_fix(slapd, seed, tmp_path):
    result = portal_sync(
        ["run"], slapd, write(tmp_path, seed), PORTAL_SYNC_LDAP__BASE_DN="dc=nowhere,dc=org"
    )
    assert result.returncode == 2
    assert "base DN dc=nowhere,dc=org does not exist" in result.stderr


def test_unreachable_server_exits_3(slapd, seed, tmp_path):
    result = portal_sync(
        ["run"],
        slapd,
        write(tmp_path, seed),
        PORTAL_SYNC_LDAP__URL="ldap://127.0.0.1:1",
        PORTAL_SYNC_LDAP__TIMEOUT="2",
    )
    assert result.returncode == 3 and "unavailable" in result.stderr


def test_check_validates_source_and_bind(slapd, seed, tmp_path):
    result = portal_sync(["check"], slapd, write(tmp_path, seed))
    assert result.returncode == 0, result.stderr
    assert "directory: ok" in result.stdout and "source: ok" in result.stdout


def test_settings_come_from_a_toml_file(slapd, seed, tmp_path):
    config = tmp_path / "portal-sync.toml"
    config.write_text(
        f'state_dir = "{tmp_path / "state"}"\n'
        f'[ldap]\nurl = "{slapd.url}"\nbind_dn = "{slapd.root_dn}"\n'
        f'bind_password = "{slapd.root_pw}"\nbase_dn = "{slapd.suffix}"\n'
        f'[source]\npath = "{write(tmp_path, seed)}"\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "sync", "--config", str(config), "run"],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("PORTAL_SYNC_")},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "19 add" in result.stdout


def test_schema_command_prints_the_json_schema():
    result = subprocess.run(
        [sys.executable, "-m", "sync", "schema"], capture_output=True, text=True, timeout=60
    )
    schema = json.loads(result.stdout)
    assert schema["properties"]["format_version"]["const"] == 1
    assert "Customer" in schema["$defs"]


def test_shipped_example_settings_file_is_valid():
    from pathlib import Path

    from sync.settings import load_settings

    settings = load_settings(Path(__file__).parent.parent / "config" / "portal-sync.toml")
    assert settings.ldap.base_dn == "dc=druckerei,dc=example"
    assert settings.layout.customer_group_name == "X{id}-{name}"
