"""Settings mistakes an administrator makes in the first hour stop the run and name the fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sync.errors import ConfigurationError
from sync.settings import load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """Run every test without PORTAL_SYNC_* variables, in a folder without .env."""
    for name in list(os.environ):
        if name.upper().startswith("PORTAL_SYNC_") or name == "CREDENTIALS_DIRECTORY":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def settings_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "portal-sync.toml"
    path.write_text(text, encoding="utf-8")
    return path


def refusal(config: Path | None = None) -> str:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(config)
    return str(caught.value)


@pytest.mark.parametrize(
    ("section", "closest"),
    [("sources", "[source]"), ("ldpa", "[ldap]"), ("Safety", "[safety]"), ("LDAP", "[ldap]")],
)
def test_a_misspelled_section_names_the_file_the_section_and_the_closest_section(
    tmp_path, section, closest
):
    config = settings_file(tmp_path, f'[{section}]\npath = "x.json"\n')
    message = refusal(config)
    assert f"{config}: unknown section [{section}]; did you mean {closest}?" in message


def test_a_misspelled_top_level_key_names_the_file_the_key_and_the_closest_key(tmp_path):
    config = settings_file(tmp_path, 'state_dri = "/var/lib/portal-sync"\n')
    assert f"{config}: unknown key 'state_dri' at the top level; did you mean 'state_dir'?" in (
        refusal(config)
    )


def test_a_misspelled_key_in_a_section_names_the_section_and_the_closest_key(tmp_path):
    config = settings_file(tmp_path, '[ldap]\nbase_nd = "dc=example,dc=org"\n')
    assert f"{config}: unknown key 'base_nd' in [ldap]; did you mean 'base_dn'?" in refusal(config)


def test_every_unknown_key_is_named_at_once(tmp_path):
    config = settings_file(tmp_path, 'state_dri = "x"\n[sources]\npath = "x"\n[ldap]\nurll = "x"\n')
    message = refusal(config)
    assert "'state_dri'" in message and "[sources]" in message and "'urll'" in message


def test_an_unknown_variable_names_the_variable_and_the_closest_setting(monkeypatch):
    monkeypatch.setenv("PORTAL_SYNC_LDAP__BASEDN", "dc=example,dc=org")
    monkeypatch.setenv("PORTAL_SYNC_LDAP_URL", "ldap://ldap.example:389")
    message = refusal()
    assert "unknown variable PORTAL_SYNC_LDAP__BASEDN; did you mean PORTAL_SYNC_LDAP__BASE_DN?" in (
        message
    )
    assert "unknown variable PORTAL_SYNC_LDAP_URL; did you mean PORTAL_SYNC_LDAP__URL?" in message


def test_an_unknown_variable_in_dotenv_names_the_file(tmp_path):
    (tmp_path / ".env").write_text("PORTAL_SYNC_SOURCE__PATHS=x.json\nOTHER_TOOL=1\n")
    message = refusal()
    assert f"{tmp_path / '.env'}: unknown variable PORTAL_SYNC_SOURCE__PATHS" in message
    assert "did you mean PORTAL_SYNC_SOURCE__PATH?" in message
    assert "OTHER_TOOL" not in message


def test_an_unknown_file_in_the_secrets_directory_is_named(tmp_path, monkeypatch):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "ldap__bind_pasword").write_text("s3cret")
    monkeypatch.setenv("PORTAL_SYNC_SECRETS_DIR", str(secrets))
    message = refusal()
    assert f"{secrets / 'ldap__bind_pasword'}: unknown secret file" in message
    assert "did you mean ldap__bind_password?" in message
    assert "s3cret" not in message


def test_variables_that_say_where_the_settings_are_are_not_settings(tmp_path, monkeypatch):
    config = settings_file(tmp_path, '[ldap]\nbase_dn = "dc=shop,dc=example"\n')
    monkeypatch.setenv("PORTAL_SYNC_CONFIG", str(config))
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "ldap__bind_password").write_text("s3cret")
    monkeypatch.setenv("PORTAL_SYNC_SECRETS_DIR", str(secrets))
    settings = load_settings()
    assert settings.ldap.base_dn == "dc=shop,dc=example"
    assert (
        settings.ldap.name_of("bind_password") == f"the secret file {secrets}/ldap__bind_password"
    )


def test_a_syntax_error_in_the_settings_file_names_the_file(tmp_path):
    config = settings_file(tmp_path, "[ldap]\nurl = ldap://x\n")
    assert f"the settings file {config} is not valid TOML: Invalid value (at line 2, column 7)" in (
        refusal(config)
    )


def test_an_invalid_value_in_the_file_names_the_file_and_the_key(tmp_path):
    config = settings_file(tmp_path, "[ldap]\ntimeout = 0\n")
    assert f"timeout in [ldap] of {config}: Input should be greater than 0" in refusal(config)


def test_an_invalid_value_in_the_environment_names_the_variable(monkeypatch):
    monkeypatch.setenv("PORTAL_SYNC_LDAP__TIMEOUT", "-1")
    assert "PORTAL_SYNC_LDAP__TIMEOUT: Input should be greater than 0" in refusal()


def test_a_setting_is_named_where_it_was_set(tmp_path, monkeypatch):
    config = settings_file(tmp_path, '[ldap]\nbase_dn = "dc=shop,dc=example"\nurl = "ldap://a"\n')
    monkeypatch.setenv("PORTAL_SYNC_LDAP__URL", "ldap://b")
    settings = load_settings(config)
    assert settings.ldap.name_of("base_dn") == f"base_dn in [ldap] of {config}"
    assert settings.ldap.name_of("url") == "PORTAL_SYNC_LDAP__URL"
    assert settings.name_of("state_dir") == f"state_dir in {config} (or PORTAL_SYNC_STATE_DIR)"


def test_the_check_command_refuses_a_misspelled_section_instead_of_using_defaults(tmp_path):
    (tmp_path / "customers.json").write_text('{"format_version": 1}')
    config = settings_file(tmp_path, '[sources]\npath = "/srv/export/customers.json"\n')
    result = subprocess.run(
        [sys.executable, "-m", "sync", "--config", str(config), "check"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.startswith("PORTAL_SYNC_")},
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "settings: ok" not in result.stdout
    assert f"{config}: unknown section [sources]; did you mean [source]?" in result.stderr
