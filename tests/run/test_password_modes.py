"""Password modes on a real slapd with the shipped ACLs, synced as the sync account."""

from __future__ import annotations

import copy
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ldap3 import MODIFY_REPLACE, Connection, Server
from portal_helpers import password_of, person_with_login, ssha, with_hashes, write_config

from sync.cli import main
from sync.ldap.connection import change_own_password, password_accepted
from sync.ldap.localserver import LocalServer
from sync.run.sync import run_sync
from sync.settings import load_settings

from conftest import SERVICES, SYNC_DN, SYNC_PASSWORD, empty_tree, shipped_acl

pytestmark = pytest.mark.slapd

CDUBOIS = "uid=cdubois,ou=external,dc=example,dc=org"
ANNA = "uid=anna.schmidt,ou=internal,dc=example,dc=org"
MODES = {"internal": "source-hash", "external": "source-hash"}


def ok(report):
    assert report.ok and not report.errors, report.to_text()
    return report


def test_source_hash_logins_work_and_follow_a_changed_hash(sync_settings_for, seed):
    document = with_hashes(seed)
    settings = sync_settings_for(document, passwords=MODES)
    first = ok(run_sync(settings))
    assert first.passwords == {"source hash written": 9}
    assert password_accepted(settings.ldap, CDUBOIS, password_of("cdubois"))
    assert password_accepted(settings.ldap, ANNA, password_of("anna.schmidt"))

    person_with_login(document, "cdubois")["account"]["password_hash"] = ssha(
        "changed-in-the-source"
    )
    second = ok(run_sync(sync_settings_for(document, passwords=MODES)))
    assert second.passwords == {"source hash written": 1}
    assert password_accepted(settings.ldap, CDUBOIS, "changed-in-the-source")
    assert not password_accepted(settings.ldap, CDUBOIS, password_of("cdubois"))
    assert ok(run_sync(settings)).passwords == {}


def test_with_mode_none_the_service_writes_no_password(sync_settings_for, seed):
    settings = sync_settings_for(with_hashes(seed))
    report = ok(run_sync(settings))
    assert report.passwords == {}
    assert not password_accepted(settings.ldap, CDUBOIS, password_of("cdubois"))


def give_password(server, dn, password):
    admin = Connection(Server(server.url), server.root_dn, server.root_pw, auto_bind=True)
    assert admin.modify(dn, {"userPassword": [(MODIFY_REPLACE, [password])]})


@pytest.mark.parametrize("mode", ["none", "initial", "source-hash"])
def test_a_password_changed_by_the_user_survives_the_next_runs(
    mode, sync_settings_for, seed, acl_slapd, tmp_path
):
    document = with_hashes(seed)
    options = {"external": mode, "initial_file": str(tmp_path / "initial.txt")}
    settings = sync_settings_for(document, passwords=options)
    ok(run_sync(settings))
    if mode == "none":
        give_password(acl_slapd, CDUBOIS, "set-by-an-admin")
        current = "set-by-an-admin"
    elif mode == "initial":
        lines = dict(
            line.split("\t") for line in (tmp_path / "initial.txt").read_text().split("\n") if line
        )
        current = lines["cdubois"]
    else:
        current = password_of("cdubois")
    change_own_password(settings.ldap, CDUBOIS, current, "chosen-by-claire")

    ok(run_sync(settings))
    person_with_login(document, "cdubois")["account"]["password_hash"] = ssha("a-new-source-hash")
    person_with_login(document, "cdubois")["email"] = "claire@new.example"
    later = ok(run_sync(sync_settings_for(document, passwords=options)))

    assert password_accepted(settings.ldap, CDUBOIS, "chosen-by-claire")
    assert not password_accepted(settings.ldap, CDUBOIS, "a-new-source-hash")
    if mode == "source-hash":
        assert later.passwords == {"kept (set in the directory)": 1}


def test_initial_passwords_reach_the_file_and_the_command_and_no_log_or_report(
    sync_settings_for, seed, tmp_path, caplog, capsys
):
    mailbox = tmp_path / "mailbox"
    mailbox.mkdir()
    command = [
        sys.executable,
        "-c",
        "import os,sys,pathlib; pathlib.Path(sys.argv[1], os.environ['PORTAL_SYNC_LOGIN'])"
        ".write_text(sys.stdin.read())",
        str(mailbox),
    ]
    options = {
        "internal": "initial",
        "external": "initial",
        "initial_file": str(tmp_path / "initial.txt"),
        "initial_command": command,
    }
    settings = sync_settings_for(seed, passwords=options)
    config = write_config(tmp_path / "portal-sync.toml", settings, options)
    caplog.set_level(logging.DEBUG)
    assert main(["--log-level", "DEBUG", "--config", str(config), "run"]) == 0
    first_output = capsys.readouterr().out
    assert "passwords: 9 initial password delivered" in first_output

    lines = (tmp_path / "initial.txt").read_text().splitlines()
    delivered = dict(line.split("\t") for line in lines)
    assert set(delivered) == {
        "anna.schmidt",
        "tom.weber",
        "admin.print",
        "cdubois",
        "mlefevre",
        "smartin",
        "jsilva",
        "acosta",
        "pbraun",
    }
    assert (tmp_path / "initial.txt").stat().st_mode & 0o777 == 0o600
    for login, password in delivered.items():
        assert (mailbox / login).read_text() == f"{login}\t{password}\n"
    dn = f"uid=pbraun,ou=external,{settings.ldap.base_dn}"
    assert password_accepted(settings.ldap, dn, delivered["pbraun"])

    assert main(["--config", str(config), "run", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["passwords"] == {}
    assert len((tmp_path / "initial.txt").read_text().splitlines()) == 9

    seen = "\n".join([caplog.text, first_output, json.dumps(again)])
    assert all(password not in seen for password in delivered.values())


def test_the_sync_account_never_reads_a_password(sync_settings_for, seed):
    settings = sync_settings_for(with_hashes(seed), passwords=MODES)
    ok(run_sync(settings))
    sync = Connection(
        Server(settings.ldap.url),
        SYNC_DN,
        settings.ldap.bind_password.get_secret_value(),
        auto_bind=True,
    )
    sync.search(CDUBOIS, "(objectClass=*)", attributes=["userPassword"])
    assert sync.response[0]["raw_attributes"].get("userPassword") in (None, [])


TINY = {
    "format_version": 1,
    "customers": [
        {
            "id": "1",
            "name": "One",
            "remote_access": True,
            "persons": [
                {
                    "id": "P",
                    "last_name": "Person",
                    "contact_types": ["customer"],
                    "account": {"login": "person"},
                }
            ],
        }
    ],
}


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(st.sampled_from(["source", "user", "run"]), max_size=8))
def test_after_any_sequence_the_user_keeps_a_password_they_chose(
    steps, acl_server, tmp_path_factory
):
    empty_tree(acl_server)
    acl_server.ldapadd(SERVICES)
    folder = tmp_path_factory.mktemp("sequence")
    document = copy.deepcopy(TINY)
    account = document["customers"][0]["persons"][0]["account"]
    source_password = "source-0"
    account["password_hash"] = ssha(source_password)
    path = folder / "source.json"
    config = load_settings(
        ldap={
            "url": acl_server.url,
            "bind_dn": SYNC_DN,
            "bind_password": SYNC_PASSWORD,
            "base_dn": acl_server.suffix,
        },
        source={"path": path},
        state_dir=folder / "state",
        passwords={"external": "source-hash"},
    )
    dn = f"uid=person,ou=external,{acl_server.suffix}"

    def run() -> None:
        path.write_text(json.dumps(document), encoding="utf-8")
        assert ok(run_sync(config))

    run()
    current, chosen_by_user = source_password, False
    for number, step in enumerate(steps, start=1):
        if step == "source":
            source_password = f"source-{number}"
            account["password_hash"] = ssha(source_password)
        elif step == "user":
            change_own_password(config.ldap, dn, current, f"user-{number}")
            current, chosen_by_user = f"user-{number}", True
        else:
            run()
            if not chosen_by_user:
                current = source_password
        assert password_accepted(config.ldap, dn, current), (steps, number)


@pytest.fixture(scope="module")
def hashing_server():
    """A slapd with the shipped ACLs and the argon2 and pw-sha2 password modules loaded."""
    server = LocalServer(
        modules_extra="olcModuleLoad: argon2\nolcModuleLoad: pw-sha2\n",
        config_changes=(shipped_acl(),),
    )
    server.start()
    try:
        server.ldapadd(SERVICES)
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("scheme", "options"),
    [
        ("{SSHA}", ["-h", "{SSHA}"]),
        ("{CRYPT}", ["-c", "$6$%.16s"]),
        ("{SSHA512}", ["-o", "module-load=pw-sha2", "-h", "{SSHA512}"]),
        ("{ARGON2}", ["-o", "module-load=argon2", "-h", "{ARGON2}"]),
    ],
)
def test_source_hash_logins_work_with_each_scheme(scheme, options, hashing_server, tmp_path):
    hashed = subprocess.run(
        [str(Path(hashing_server.PATH_SLAPD).with_name("slappasswd")), *options, "-s", "secret-1"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert hashed.startswith(scheme)
    document = copy.deepcopy(TINY)
    document["customers"][0]["persons"][0]["account"]["password_hash"] = hashed
    login = f"person-{scheme.strip('{}').lower()}"
    document["customers"][0]["persons"][0]["account"]["login"] = login
    document["customers"][0]["persons"][0]["id"] = login
    path = tmp_path / "source.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    config = load_settings(
        ldap={
            "url": hashing_server.url,
            "bind_dn": SYNC_DN,
            "bind_password": SYNC_PASSWORD,
            "base_dn": hashing_server.suffix,
        },
        source={"path": path},
        state_dir=tmp_path / "state",
        passwords={"external": "source-hash"},
    )
    report = ok(run_sync(config))
    assert report.passwords == {"source hash written": 1}
    dn = f"uid={login},ou=external,{hashing_server.suffix}"
    assert password_accepted(config.ldap, dn, "secret-1")
    assert not password_accepted(config.ldap, dn, "something-else")
