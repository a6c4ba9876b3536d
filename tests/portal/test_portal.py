"""The portal's questions from the command line: access user, access order, login."""

from __future__ import annotations

import getpass
import json

import pytest
from ldap3 import MODIFY_ADD, Connection, Server
from portal_helpers import password_of, with_hashes, write_config

from sync.cli import main
from sync.run.sync import run_sync

pytestmark = pytest.mark.slapd

ORDERS = "ou=orders,ou=groups,dc=example,dc=org"


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


def run(capsys, *argv):
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_access_user_lists_the_orders_and_why(config, capsys):
    code, out = run(capsys, "--config", config, "access", "user", "acosta", "--compare")
    assert code == 0, out
    assert "kind:      external" in out
    assert "customer:  10002" in out
    assert "_20261120_001: agency 10002 for customer 10001" in out
    assert "_20261120_002: own customer 10002" in out
    assert "_20261121_003: agency 10002 for customer 10003" in out
    assert "RA_4726" not in out
    assert "agrees with the source rules" in out


def test_access_order_lists_everyone_who_may_open_it(config, capsys):
    code, out = run(capsys, "--config", config, "access", "order", "_20261121_003", "--compare")
    assert code == 0, out
    assert "pbraun (external): own customer 10003" in out
    assert "jsilva (external): agency 10002 for customer 10003" in out
    assert "acosta (external): agency 10002 for customer 10003" in out
    assert "users:     3" in out


def test_access_order_without_a_group_says_nobody_outside_the_shop(config, capsys):
    code, out = run(capsys, "--config", config, "access", "order", "_20261121_004", "--compare")
    assert "nobody outside the shop" in out
    assert code == 0 and "agrees" in out


def test_compare_reports_a_member_added_in_the_directory_as_drift(config, acl_slapd, capsys):
    admin = Connection(Server(acl_slapd.url), acl_slapd.root_dn, acl_slapd.root_pw, auto_bind=True)
    intruder = "uid=pbraun,ou=external,dc=example,dc=org"
    assert admin.modify(f"cn=order-RA_4726,{ORDERS}", {"member": [(MODIFY_ADD, [intruder])]})
    code, out = run(capsys, "--config", config, "access", "order", "RA_4726", "--compare")
    assert code == 1
    assert "DRIFT" in out and "granted by the directory, not by the rules: pbraun" in out
    assert "pbraun (external): member of the group, but a user of neither customer 10001" in out
    code, out = run(capsys, "--config", config, "access", "user", "pbraun", "--compare")
    assert code == 1
    assert "granted by the directory, not by the rules: RA_4726" in out


def test_login_asks_for_the_password_and_shows_the_groups(config, capsys, monkeypatch):
    monkeypatch.setattr(getpass, "getpass", lambda prompt: password_of("smartin"))
    code, out = run(capsys, "--config", config, "login", "smartin")
    assert code == 0, out
    assert "login accepted" in out
    assert "X10001-Éditions Lumière" in out
    assert "RA_4726: own customer 10001" in out


def test_login_with_a_wrong_password_is_refused(config, capsys, monkeypatch):
    monkeypatch.setattr(getpass, "getpass", lambda prompt: "wrong")
    code, out = run(capsys, "--config", config, "login", "smartin")
    assert code == 1
    assert "login refused for 'smartin'" in out


def test_an_unknown_login_is_refused_like_a_wrong_password(config, capsys, monkeypatch):
    monkeypatch.setattr(getpass, "getpass", lambda prompt: "whatever")
    code, out = run(capsys, "--config", config, "login", "*")
    assert code == 1 and "login refused for '*'" in out


def test_the_report_json_has_password_counts_but_no_values(config, capsys):
    code, out = run(capsys, "--config", config, "run", "--json")
    assert code == 0
    assert json.loads(out)["passwords"] == {}
    assert "{SSHA}" not in out


def test_check_binds_the_portal_account_and_says_the_connection_is_not_encrypted(config, capsys):
    code, out = run(capsys, "--config", config, "check")
    assert code == 0, out
    assert "tls: none" in out
    assert "portal account: ok (bound as cn=portal,ou=services,dc=example,dc=org)" in out
