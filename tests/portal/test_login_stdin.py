"""`portal-sync login --password-stdin`: a script logs a user in with the password on stdin."""

from __future__ import annotations

import subprocess
import sys

import pytest
from portal_helpers import password_of, with_hashes, write_config

from sync.run.sync import run_sync

pytestmark = pytest.mark.slapd


@pytest.fixture
def config(sync_settings_for, seed, tmp_path):
    options = {"internal": "source-hash", "external": "source-hash"}
    settings = sync_settings_for(with_hashes(seed), passwords=options)
    report = run_sync(settings)
    assert report.ok and not report.errors
    path = write_config(tmp_path / "portal-sync.toml", settings, options)
    portal = settings.portal
    path.write_text(
        path.read_text()
        + f'[portal]\nbind_dn = "{portal.bind_dn}"\n'
        + f'bind_password = "{portal.bind_password.get_secret_value()}"\n'
    )
    return str(path)


def login(config: str, stdin: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run `portal-sync login` as a script does: stdin a pipe, no terminal."""
    return subprocess.run(
        [sys.executable, "-m", "sync", "--config", config, "login", *extra],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_script_logs_in_with_the_password_on_stdin(config):
    done = login(config, password_of("smartin") + "\n", "smartin", "--password-stdin")
    assert done.returncode == 0, done.stderr
    assert "login accepted" in done.stdout
    assert "RA_4726: own customer 10001" in done.stdout
    assert "password" not in done.stderr.lower(), "no prompt, no warning about echo"
    assert password_of("smartin") not in done.stdout + done.stderr


def test_a_wrong_password_on_stdin_is_refused(config):
    done = login(config, "wrong\n", "smartin", "--password-stdin")
    assert done.returncode == 1
    assert "login refused for 'smartin'" in done.stdout


def test_only_the_line_ending_is_taken_off_the_password(config):
    done = login(config, password_of("smartin") + " \n", "smartin", "--password-stdin")
    assert done.returncode == 1, "a trailing space is part of the password"


def test_an_empty_stdin_is_a_usage_error_not_a_login(config):
    done = login(config, "", "smartin", "--password-stdin")
    assert done.returncode == 2
    assert "--password-stdin" in done.stderr and "no password" in done.stderr
    assert "login accepted" not in done.stdout and "refused" not in done.stdout
