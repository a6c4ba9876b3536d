"""Pure units of the replicated directory: `ldap.url` as a list, the password of a re-added entry."""

from __future__ import annotations

import pytest
from ldap3 import ServerPool

from sync.errors import ConfigurationError
from sync.ldap.connection import _server
from sync.run.passwords import Step, first_step
from sync.settings import LdapSettings, PasswordMode, load_settings

P1, P2 = "ldap://ldap1.example.org:389", "ldap://ldap2.example.org"


@pytest.mark.parametrize(
    "written",
    [
        [P1, P2],
        f"{P1}, {P2}",
        f"{P1},{P2}",
        f"{P1} {P2}",
        f" {P1}\n {P2} ",
    ],
)
def test_a_list_of_servers_keeps_its_order(written):
    assert LdapSettings(url=written).urls == (P1, P2)


def test_one_url_is_a_list_of_one():
    assert LdapSettings(url=P1).urls == (P1,)
    assert LdapSettings().urls == ("ldap://localhost:389",)


def test_a_toml_list_is_read_as_the_servers_in_order(tmp_path):
    config = tmp_path / "portal-sync.toml"
    config.write_text(f'[ldap]\nurl = ["{P2}", "{P1}"]\n', encoding="utf-8")
    assert load_settings(config_file=config).ldap.urls == (P2, P1)


def test_an_environment_variable_takes_a_comma_separated_list(monkeypatch):
    monkeypatch.setenv("PORTAL_SYNC_LDAP__URL", f"{P1},{P2}")
    assert load_settings().ldap.urls == (P1, P2)


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ([P1, "ldaps://ldap2.example.org"], "mix ldap:// and ldaps://"),
        ([P1, P1.upper().replace("LDAP://", "ldap://")], "appears twice"),
        ("  ,  ", "at least one server URL"),
    ],
)
def test_a_bad_list_is_a_settings_error_naming_the_field(written, message):
    with pytest.raises(ConfigurationError, match=message) as caught:
        load_settings(ldap={"url": written})
    assert "url" in str(caught.value)


def test_a_list_builds_a_pool_that_takes_the_first_reachable_server_in_order():
    pool = _server(LdapSettings(url=[P1, P2]))
    assert isinstance(pool, ServerPool)
    assert [server.host for server in pool.servers] == ["ldap1.example.org", "ldap2.example.org"]
    assert pool.strategy == "FIRST" and pool.active == 1 and pool.exhaust is True


def test_one_url_builds_one_server_as_before():
    assert not isinstance(_server(LdapSettings(url=P1)), ServerPool)


def test_an_entry_added_again_gets_the_source_hash_the_state_remembers():
    """The survivor of a failover may lack an entry whose hash the state says was written."""
    assert first_step(PasswordMode.SOURCE_HASH, True, "{SSHA}x", "{SSHA}x") is Step.WRITE_HASH
