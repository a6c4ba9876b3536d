"""What is particular to Active Directory, proven on Samba 4 as the domain controller."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from documents import add_person
from ldap3.protocol.rfc2696 import RealSearchControlValue
from ldap3.strategy.base import BaseStrategy
from pyasn1.codec.ber import decoder
from pydantic import SecretStr

from sync.core.change import Change, Op
from sync.core.report import Outcome
from sync.errors import ConfigurationError
from sync.ldap.connection import password_accepted
from sync.ldap.directory import Directory
from sync.portal.login import Portal
from sync.run.sync import run_sync

pytest_plugins = ["servers.fixtures", "flavours.fixtures"]

PAGED_RESULTS = "1.2.840.113556.1.4.319"


def sync(target, seed, tmp_path, **overrides):
    report = run_sync(target.settings(seed, tmp_path, **overrides))
    assert report.failure is None, report.failure
    return report


def test_a_login_over_20_characters_is_a_named_record_error_never_a_truncation(ad, seed, tmp_path):
    long_login = "claire.dubois.lumiere"  # 21 characters
    add_person(seed, long_login)
    report = sync(ad, seed, tmp_path)
    [error] = report.errors
    assert error.record == "person P-90 of customer 10001"
    assert "samaccountname" in error.problem.lower() and "at most 20" in error.problem
    logins = ad.users("ou=external")
    assert long_login not in logins and not any(len(login) > 20 for login in logins)
    assert not any(long_login.startswith(login) for login in logins if login != "cdubois")

    before = ad.entries("ou=external")[ad.dn("ou=external", "cdubois")]
    seed["customers"][0]["persons"][0]["account"]["login"] = "claire.dubois.editions"
    report = sync(ad, seed, tmp_path)
    assert sorted(e.record for e in report.errors) == [
        "person P-1 of customer 10001",
        "person P-90 of customer 10001",
    ]
    assert ad.entries("ou=external")[ad.dn("ou=external", "cdubois")] == before


@pytest.mark.parametrize("transport", ["ldaps", "starttls"])
def test_an_initial_password_is_set_with_unicodepwd_over_tls(ad, seed, tmp_path, transport):
    delivered = tmp_path / "initial.txt"
    ldap = {} if transport == "ldaps" else {"url": ad.plain_url, "start_tls": True}
    report = sync(
        ad,
        seed,
        tmp_path,
        ldap=ldap,
        passwords={"external": "initial", "initial_file": delivered},
    )
    assert report.passwords == {"initial password delivered": 6}
    passwords = dict(line.split("\t") for line in delivered.read_text().splitlines())
    assert ad.can_bind(ad.dn("ou=external", "jsilva"), passwords["jsilva"])
    assert ad.can_bind(f"jsilva@{ad.upn_suffix}", passwords["jsilva"])
    assert not ad.can_bind(ad.dn("ou=external", "jsilva"), passwords["acosta"])


def test_an_initial_password_is_never_sent_in_clear(ad, seed, tmp_path, slapd):
    delivered = tmp_path / "initial.txt"
    settings = ad.settings(
        seed,
        tmp_path,
        ldap={"url": ad.plain_url},
        passwords={"external": "initial", "initial_file": delivered},
    )
    before = ad.writes(ad)
    report = run_sync(settings)
    assert report.outcome is Outcome.CONFIGURATION
    assert "never sends in clear" in report.failure and "START_TLS" in report.failure
    assert ad.writes(ad) == before and not delivered.exists()

    plain = settings.ldap.model_copy(
        update={
            "url": slapd.url,
            "bind_dn": slapd.root_dn,
            "bind_password": SecretStr(slapd.root_pw),
            "base_dn": slapd.suffix,
        }
    )
    with (
        Directory.open(plain) as directory,
        pytest.raises(ConfigurationError, match="refused to send unicodePwd over a conn"),
    ):
        directory.set_unicode_password(f"cn=admin,{slapd.suffix}", "Never-Sent-1")


def test_source_hash_is_refused_at_check_and_at_start_not_at_the_first_user(ad, seed, tmp_path):
    settings = ad.settings(seed, tmp_path, passwords={"internal": "source-hash"})
    before = ad.writes(ad)
    report = run_sync(settings)
    assert report.outcome is Outcome.CONFIGURATION
    assert "passwords.internal" in report.failure
    assert "source-hash, but the active-directory mapping" in report.failure
    assert ad.writes(ad) == before

    env = cli_environment(ad, tmp_path, PORTAL_SYNC_PASSWORDS__INTERNAL="source-hash")
    checked = subprocess.run(
        [sys.executable, "-m", "sync", "check"], env=env, capture_output=True, text=True
    )
    assert checked.returncode == 2, checked.stdout + checked.stderr
    assert "does not store a password hash" in checked.stderr


def cli_environment(ad, tmp_path, **more):
    """Return the environment of a `portal-sync` command syncing into the AD target."""
    return {
        **os.environ,
        "PORTAL_SYNC_LDAP__URL": ad.url,
        "PORTAL_SYNC_LDAP__BIND_DN": ad.admin_dn,
        "PORTAL_SYNC_LDAP__BIND_PASSWORD": ad.admin_password,
        "PORTAL_SYNC_LDAP__BASE_DN": ad.base,
        "PORTAL_SYNC_LDAP__CA_FILE": str(ad.ldap_extra["ca_file"]),
        "PORTAL_SYNC_LDAP__TLS_NAME": ad.ldap_extra["tls_name"],
        "PORTAL_SYNC_MAPPING__PATH": ad.mapping,
        "PORTAL_SYNC_MAPPING__VALUES__UPN_SUFFIX": ad.upn_suffix,
        "PORTAL_SYNC_SOURCE__PATH": str(tmp_path / "source.json"),
        "PORTAL_SYNC_STATE_DIR": str(tmp_path / "state"),
        **more,
    }


def test_the_command_line_checks_and_runs_against_ad_with_its_lease(ad, seed, tmp_path):
    ad.settings(seed, tmp_path)  # writes the source document
    env = cli_environment(ad, tmp_path)
    for command, code in ((["check"], 0), (["run"], 0), (["run", "--full"], 0)):
        done = subprocess.run(
            [sys.executable, "-m", "sync", *command], env=env, capture_output=True, text=True
        )
        assert done.returncode == code, done.stdout + done.stderr
    assert "no change" in done.stdout
    lease = f"cn=portal-sync-lock,{ad.base}".lower()
    assert ad.entries()[lease]["objectclass"] == ["top", "container"]
    assert ad.users("ou=external") == {
        "cdubois",
        "mlefevre",
        "smartin",
        "jsilva",
        "acosta",
        "pbraun",
    }


def test_1100_pipelined_writes_over_ldaps_all_answered_and_paged_reads_under_1000(
    ad, tmp_path, monkeypatch, seed
):
    external = f"OU=external,{ad.base}"
    settings = ad.settings(seed, tmp_path)
    changes = [Change(Op.ADD_CONTAINER, external, object_classes=("organizationalUnit",))]
    changes += [
        Change(
            Op.ADD,
            f"CN=contact-{number},{external}",
            object_classes=("contact",),
            replace={"extensionName": (f"portal-sync:external:P-{number}",)},
        )
        for number in range(1100)
    ]
    with Directory.open(settings.ldap) as directory:
        # Over LDAPS the writes go one at a time in the run's thread: with ldap3's
        # receiver thread reading the TLS socket meanwhile, answers were lost.
        answers = list(directory.apply_pipelined(changes, 64))
    assert [refusal for _, refusal in answers] == [None] * 1101
    searches = []
    original = BaseStrategy.sending

    def recording(strategy, ldap_message):
        """Keep every search request as it goes to the socket: its base and controls."""
        operation = ldap_message["protocolOp"]
        if operation.getName() == "searchRequest":
            base = str(operation.getComponent()["baseObject"])
            controls = ldap_message["controls"]
            pages = [
                decoder.decode(bytes(c["controlValue"]), asn1Spec=RealSearchControlValue())[0]
                for c in (controls if controls.isValue else ())
                if str(c["controlType"]) == PAGED_RESULTS
            ]
            searches.append((base, [int(page["size"]) for page in pages]))
        return original(strategy, ldap_message)

    monkeypatch.setattr(BaseStrategy, "sending", recording)
    with Directory.open(settings.ldap) as directory:
        found = list(
            directory.read_managed([external], "extensionName", "portal-sync:", ["extensionName"])
        )
        held = list(
            directory.read_holding(
                [external],
                "extensionName",
                [f"portal-sync:external:P-{n}" for n in range(1100)],
                ["1.1"],
                chunk=1100,
            )
        )
    assert len(found) == 1100 and len(held) == 1100
    subtree = [sizes for base, sizes in searches if base.lower() == external.lower()]
    # exists() reads the base entry alone (BASE scope, one entry); every other search is paged
    assert len(subtree) >= 2 * 3 + 2
    paged = [sizes for sizes in subtree if sizes]
    assert len(paged) >= 6 and all(size == settings.ldap.page_size <= 1000 for [size] in paged)
    assert len(subtree) - len(paged) == 2


def test_the_certificate_name_setting_and_the_message_naming_it(ad, seed, tmp_path):
    settings = ad.settings(seed, tmp_path, ldap={"tls_name": ""})
    with pytest.raises(ConfigurationError) as refused:
        Directory.open(settings.ldap).__enter__()
    message = str(refused.value)
    assert "names DC1.test.example.com, not 127.0.0.1" in message
    assert "ldap.tls_name" in message
    assert sync(ad, seed, tmp_path).changes


def test_ad_refusals_are_said_in_words(ad, seed, tmp_path):
    with ad.connect() as conn:
        conn.add(f"CN=someone,{ad.base}", ["user"], {"sAMAccountName": "cdubois"})
    report = sync(ad, seed, tmp_path)
    [error] = report.errors
    assert error.record == "person P-1 of customer 10001"
    assert "a name that must be unique in the domain is already used" in error.problem

    wrong = ad.settings(seed, tmp_path, ldap={"bind_password": "Not-The-Password-1"})
    report = run_sync(wrong)
    assert report.outcome is Outcome.CONFIGURATION
    assert "Active Directory: wrong password" in report.failure

    plain = ad.settings(seed, tmp_path, ldap={"url": ad.plain_url})
    report = run_sync(plain)
    assert "only over an encrypted connection" in report.failure


def test_a_portal_logs_in_against_ad_by_upn_and_by_dn(ad, seed, tmp_path):
    settings = ad.settings(seed, tmp_path)
    sync(ad, seed, tmp_path)
    dn = ad.dn("ou=external", "jsilva")
    ad.set_password(dn, "Joao-Pass-42")
    with Portal.open(settings) as portal:
        user = portal.authenticate("jsilva", "Joao-Pass-42")
    assert user.dn.lower() == dn
    assert user.orders == {"_20261120_001", "_20261120_002", "_20261121_003"}
    assert password_accepted(settings.ldap, f"jsilva@{ad.upn_suffix}", "Joao-Pass-42")
    assert password_accepted(settings.ldap, user.dn, "Joao-Pass-42")
    assert not password_accepted(settings.ldap, f"jsilva@{ad.upn_suffix}", "Joao-Pass-43")
