"""The command line as a new administrator meets it: help, messages that name the fix, output."""

from __future__ import annotations

import json
import os
import pty
import select
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemons import Daemon, environment, wait_for, write_source

from directory_view import entries, write_stamps

COMMANDS = ["run", "check", "schema", "daemon", "status", "demo", "access", "login"]


def slapd_environment(server, source, **env):
    """Return the environment of a command syncing `source` into `server`; None drops a name."""
    values = {**environment(server, source, source.parent / "state"), **env}
    return {name: value for name, value in values.items() if value is not None}


def portal_sync(args, server, source, **env):
    """Run the command with settings for `server` in the environment only."""
    return subprocess.run(
        [sys.executable, "-m", "sync", *args],
        env=slapd_environment(server, source, **env),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=source.parent,
    )


def write(tmp_path, document, name="source.json"):
    path = tmp_path / name
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture
def black_hole() -> Iterator[str]:
    """Yield the URL of a port that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"ldap://127.0.0.1:{listener.getsockname()[1]}"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_a_help_with_description_settings_examples_and_exit_codes(command):
    result = subprocess.run(
        [sys.executable, "-m", "sync", command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    usage, description = result.stdout.split("\n\n")[:2]
    assert usage.startswith(f"usage: portal-sync {command}")
    assert len(description.split()) >= 12, description
    for section in ("settings read:", "examples:", "exit codes:"):
        assert f"\n{section}\n" in result.stdout
    examples = result.stdout.split("examples:")[1].split("exit codes:")[0].splitlines()
    assert any(line.startswith("  portal-sync ") and f" {command}" in line for line in examples)
    codes = result.stdout.split("exit codes:")[1]
    assert "  0   " in codes


def test_the_run_help_lists_every_exit_code_of_a_run():
    result = subprocess.run(
        [sys.executable, "-m", "sync", "run", "--help"], capture_output=True, text=True, timeout=60
    )
    codes = result.stdout.split("exit codes:")[1]
    for code in range(7):
        assert f"\n  {code}   " in codes


def test_version_comes_from_the_package_metadata():
    from importlib import metadata

    result = subprocess.run(
        [sys.executable, "-m", "sync", "--version"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    assert result.stdout.strip() == f"portal-sync {metadata.version('portal-sync')}"


def closed_pipe_run(args, env=None):
    """Run the command with its stdout a pipe whose reader is already gone."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        return subprocess.run(
            [sys.executable, "-m", "sync", *args],
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            env=env,
        )
    finally:
        os.close(writer)


@pytest.mark.parametrize("args", [["schema"], ["status", "--json"], ["status"]])
def test_output_into_a_closed_pipe_ends_quietly(args, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_SYNC_")}
    env["PORTAL_SYNC_STATE_DIR"] = str(tmp_path)
    result = closed_pipe_run(args, env)
    assert result.stderr == ""
    assert result.returncode == 141


def test_help_into_a_closed_pipe_ends_quietly():
    assert closed_pipe_run(["run", "--help"]).stderr == ""


def test_check_into_a_closed_pipe_ends_quietly(slapd, seed, tmp_path):
    result = closed_pipe_run(["check"], slapd_environment(slapd, write(tmp_path, seed)))
    assert "Traceback" not in result.stderr and "BrokenPipeError" not in result.stderr
    assert result.returncode == 141


def test_a_refused_bind_names_the_dn_and_where_the_password_is_set(slapd, seed, tmp_path):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "ldap__bind_password").write_text("wrong-Secret-42")
    result = portal_sync(
        ["run"],
        slapd,
        write(tmp_path, seed),
        PORTAL_SYNC_LDAP__BIND_PASSWORD=None,
        PORTAL_SYNC_SECRETS_DIR=str(secrets),
    )
    assert result.returncode == 2
    assert f"refused the bind as {slapd.root_dn}" in result.stderr
    assert f"fix the password in the secret file {secrets / 'ldap__bind_password'}" in result.stderr
    assert "LDAPInvalidCredentialsResult" not in result.stderr
    assert "wrong-Secret-42" not in result.stdout + result.stderr


def test_ldaps_to_a_plain_port_says_the_server_does_not_speak_tls(slapd, seed, tmp_path):
    url = slapd.url.replace("ldap://", "ldaps://")
    result = portal_sync(["check"], slapd, write(tmp_path, seed), PORTAL_SYNC_LDAP__URL=url)
    assert result.returncode == 2
    port = url.rsplit(":", 1)[1]
    assert f"the server did not speak TLS on 127.0.0.1:{port}" in result.stderr
    assert "Fix PORTAL_SYNC_LDAP__URL" in result.stderr
    assert "socket ssl wrapping error" not in result.stderr


def test_an_unresolvable_host_is_named(slapd, seed, tmp_path):
    result = portal_sync(
        ["run"],
        slapd,
        write(tmp_path, seed),
        PORTAL_SYNC_LDAP__URL="ldap://ldap.nowhere.invalid:389",
    )
    assert result.returncode == 3
    assert "the host name ldap.nowhere.invalid cannot be resolved" in result.stderr


def test_the_base_dn_message_names_the_settings_file_when_it_was_set_there(slapd, seed, tmp_path):
    config = tmp_path / "portal-sync.toml"
    config.write_text('[ldap]\nbase_dn = "dc=nowhere,dc=org"\n')
    result = portal_sync(
        ["--config", str(config), "run"],
        slapd,
        write(tmp_path, seed),
        PORTAL_SYNC_LDAP__BASE_DN=None,
    )
    assert result.returncode == 2
    assert f"create it or fix base_dn in [ldap] of {config}" in result.stderr
    assert "PORTAL_SYNC_LDAP__BASE_DN" not in result.stderr


def lease_entries(server) -> dict[str, dict[str, list[str]]]:
    return {dn: a for dn, a in entries(server).items() if dn.startswith("cn=portal-sync-lock,")}


@pytest.mark.parametrize(
    "content",
    ['{"format_version": 1, "customers": [}', "", '{"format_version": 7}'],
    ids=["not-json", "empty", "unknown-version"],
)
def test_a_run_stopped_by_its_source_never_writes_the_run_lease(slapd, seed, tmp_path, content):
    broken = tmp_path / "broken.json"
    broken.write_text(content)
    result = portal_sync(["run"], slapd, broken)
    assert result.returncode == 4, result.stdout + result.stderr
    assert lease_entries(slapd) == {}

    assert portal_sync(["run"], slapd, write(tmp_path, seed)).returncode == 0
    before = lease_entries(slapd)
    assert before
    assert portal_sync(["run"], slapd, broken).returncode == 4
    assert lease_entries(slapd) == before


def test_a_run_that_timed_out_reports_how_long_it_took(slapd, seed, tmp_path, black_hole):
    result = portal_sync(
        ["run", "--json"],
        slapd,
        write(tmp_path, seed),
        PORTAL_SYNC_LDAP__URL=black_hole,
        PORTAL_SYNC_LDAP__TIMEOUT="1",
    )
    report = json.loads(result.stdout)
    assert report["outcome"] == "directory-unavailable"
    assert report["duration_seconds"] >= 1.0


def test_a_failed_run_and_a_settings_error_both_go_to_stderr(slapd, seed, tmp_path):
    source = write(tmp_path, seed)
    refused = portal_sync(["run"], slapd, source, PORTAL_SYNC_LDAP__BIND_PASSWORD="wrong")
    assert refused.returncode == 2
    assert refused.stdout == "" and "refused the bind" in refused.stderr
    unknown = portal_sync(["run"], slapd, source, PORTAL_SYNC_LDAP__TIMEOUTT="3")
    assert unknown.returncode == 2
    assert unknown.stdout == "" and "PORTAL_SYNC_LDAP__TIMEOUTT" in unknown.stderr
    ok = portal_sync(["run"], slapd, source)
    assert ok.returncode == 0 and "applied:" in ok.stdout and ok.stderr == ""


def test_a_dry_run_held_by_the_deletion_guard_lists_each_held_change_once(slapd, seed, tmp_path):
    assert portal_sync(["run"], slapd, write(tmp_path, seed)).returncode == 0
    seed["customers"][0]["persons"][0]["account"]["enabled"] = False
    result = portal_sync(
        ["run", "--dry-run"],
        slapd,
        write(tmp_path, seed),
        PORTAL_SYNC_SAFETY__MAX_DELETIONS="0",
    )
    assert result.returncode == 5, result.stdout + result.stderr
    held = "rename        uid=cdubois,ou=external,dc=example,dc=org -> uid=cdubois,ou=disabled"
    assert "1 destructive change(s) held back" in result.stdout
    assert result.stdout.count(held) == 1, result.stdout


def test_the_report_says_why_records_have_no_entry(slapd, seed, tmp_path):
    source = write(tmp_path, seed)
    counted = portal_sync(["run", "--dry-run"], slapd, source)
    assert "records left out by the rules, not errors:" in counted.stdout
    assert "order not visible on the portal: 1" in counted.stdout
    assert "Jean Petit" not in counted.stdout
    explained = portal_sync(["run", "--dry-run", "--explain"], slapd, source)
    assert "person P-4 (Jean Petit) of customer 10001: no user: no portal account" in (
        explained.stdout
    )
    assert "customer 10004 (Boulangerie Bernard): remote access is off" in explained.stdout
    report = json.loads(portal_sync(["run", "--json"], slapd, source).stdout)
    assert {
        "record": "person P-30 (Luc Bernard) of customer 10004",
        "reason": "customer without remote access",
        "detail": "no user for lbernard: customer 10004 has no remote access",
    } in report["decisions"]
    assert report["left_out"]["order not visible on the portal"] == 1


def read_all(descriptor: int) -> bytes:
    chunks = []
    while select.select([descriptor], [], [], 0.5)[0]:
        try:
            chunk = os.read(descriptor, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_run_shows_its_progress_on_a_terminal_and_only_there(slapd, seed, tmp_path):
    source = write(tmp_path, seed)
    env = slapd_environment(slapd, source, TERM="xterm")
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "sync", "run", "--full"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=terminal,
            text=True,
        )
        stdout, _ = process.communicate(timeout=60)
        shown = read_all(controller).decode("utf-8", errors="replace")
    finally:
        os.close(terminal)
        os.close(controller)
    assert process.returncode == 0, stdout
    assert "applying" in shown and "26/26" in shown
    assert "applying" not in stdout

    piped = portal_sync(["run", "--full"], slapd, source)
    assert piped.returncode == 0
    assert piped.stderr == ""


def test_the_daemon_logs_a_progress_line_every_interval(slapd, seed, tmp_path, black_hole):
    source = tmp_path / "source.json"
    write_source(source, seed)
    env = environment(
        slapd,
        source,
        tmp_path / "state",
        ldap__url=black_hole,
        ldap__timeout=3,
        logging__progress_interval=0.2,
        schedule__interval=3600,
    )
    with Daemon(env, tmp_path) as daemon:
        wait_for(
            lambda: daemon.log.count("progress: connecting to the directory") >= 3,
            "three progress lines",
        )


def test_the_source_is_read_before_anything_touches_the_directory(slapd, seed, tmp_path):
    assert portal_sync(["run"], slapd, write(tmp_path, seed)).returncode == 0
    before = write_stamps(slapd)
    huge = tmp_path / "huge.json"
    huge.write_text(json.dumps(seed) + " " * 4096)
    result = portal_sync(["run"], slapd, huge, PORTAL_SYNC_SOURCE__MAX_SIZE="4KiB")
    assert result.returncode == 4
    assert "more than the limit of 4,096 bytes" in result.stderr
    assert write_stamps(slapd) == before
    assert Path(huge).exists()
