"""The one module that uses ldap3's private API: checked at start-up, closed cleanly."""

from __future__ import annotations

import threading

import ldap3
import pytest
from ldap3.core import exceptions as ldap_exc
from ldap3.strategy.asynchronous import AsyncStrategy

from sync.core.change import Change, Op
from sync.core.report import Outcome
from sync.errors import ConfigurationError
from sync.ldap import ldap3_internals
from sync.ldap.directory import Directory
from sync.ldap.translate import translated
from sync.run.sync import run_sync

from directory_view import entries


def test_the_installed_ldap3_has_what_the_pipelined_writes_use():
    assert ldap3_internals.missing() == []


@pytest.mark.slapd
def test_an_ldap3_without_it_stops_the_run_before_any_write_naming_the_version(
    settings_for, seed, slapd, monkeypatch
):
    monkeypatch.delattr(AsyncStrategy, "post_send_single_response")
    report = run_sync(settings_for(seed))
    assert report.outcome is Outcome.CONFIGURATION
    assert f"ldap3 {ldap3.__version__} has no AsyncStrategy.post_send_single_response" in (
        report.failure or ""
    )
    assert set(entries(slapd)) == {slapd.suffix, slapd.root_dn}


@pytest.mark.slapd
def test_a_closed_directory_has_no_receiver_thread_left(settings_for, seed, slapd):
    before = set(threading.enumerate())
    with Directory.open(settings_for(seed).ldap) as directory:
        ou = Change(
            Op.ADD_CONTAINER, f"ou=t,{slapd.suffix}", object_classes=("organizationalUnit",)
        )
        assert [refusal for _, refusal in directory.apply_pipelined([ou], 4)] == [None]
        assert [t for t in threading.enumerate() if t not in before]
    assert [t for t in threading.enumerate() if t not in before and t.is_alive()] == []


def test_a_change_answered_with_a_referral_stops_the_run_saying_what_to_fix():
    action = "add uid=x,ou=external,dc=example,dc=org"
    with pytest.raises(ConfigurationError) as stopped, translated(action):
        raise ldap_exc.LDAPReferralResult(result=10, description="referral")
    assert "answered with a referral" in str(stopped.value)
    assert "point ldap.url at the server that takes the writes" in str(stopped.value)
