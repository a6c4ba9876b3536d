"""Pipelined writes on a real slapd: the plan's order holds, refusals stay per change."""

from __future__ import annotations

import pytest

from benchmarks.generate import generate
from sync.core.change import Change, Op
from sync.errors import DirectoryUnavailable
from sync.ldap.directory import Directory
from sync.ldap.flavour import load_mapping
from sync.ldap.localserver import LocalServer
from sync.run.current import read_current
from sync.run.prepare import prepare
from sync.run.sync import run_sync
from sync.settings import load_settings

from conftest import empty_tree


def tree(settings) -> dict[str, dict[str, list[str]]]:
    """Return the managed entries: DN (lower case) to sorted attribute values."""
    with Directory.open(settings.ldap) as directory:
        entries = read_current(directory, settings, load_mapping(settings.mapping.path))
    return {
        e.dn.lower(): {
            name: sorted(v.lower() for v in values) for name, values in e.attributes.items()
        }
        for e in entries
    }


def add_ldif(slapd, text: str) -> None:
    slapd.ldapmodify(text, extra_args=["-a"])


@pytest.mark.slapd
def test_many_writes_in_flight_create_every_entry_and_a_second_run_is_a_no_op(settings_for):
    document = generate("XS", seed=11)
    settings = settings_for(document, performance={"write_window": 64})
    first = run_sync(settings)
    assert first.ok and not first.errors
    desired = prepare(settings).desired
    assert first.counts()["add"] == len(desired.entries)
    assert len(tree(settings)) == len(desired.entries)
    second = run_sync(settings, full=True)
    assert second.ok and second.counts() == {}


@pytest.mark.slapd
def test_one_at_a_time_and_many_in_flight_give_the_same_tree(settings_for, slapd):
    document = generate("XS", seed=12)
    one = settings_for(document, performance={"write_window": 1})
    run_sync(one)
    sequential = tree(one)
    empty_tree(slapd)
    many = settings_for(document, performance={"write_window": 64}, state_dir=one.state_dir / "x")
    run_sync(many)
    assert tree(many) == sequential


@pytest.mark.slapd
def test_a_login_and_email_change_rename_before_they_modify(settings_for, seed):
    settings = settings_for(seed)
    assert run_sync(settings).ok
    person = seed["customers"][0]["persons"][0]
    person["account"]["login"] = "claire.dubois"
    person["email"] = "claire@new.example"
    settings = settings_for(seed)
    report = run_sync(settings)
    assert report.ok and not report.errors
    assert report.counts()["rename"] == 1
    entries = tree(settings)
    moved = next(dn for dn in entries if dn.startswith("uid=claire.dubois,"))
    assert entries[moved]["mail"] == ["claire@new.example"]
    assert not any(dn.startswith("uid=cdubois,") for dn in entries)
    groups = [e for e in entries.values() if moved in e.get("member", [])]
    assert groups
    assert run_sync(settings, full=True).counts() == {}


@pytest.mark.slapd
def test_refused_adds_are_record_errors_each_and_groups_leave_those_users_out(
    settings_for, seed, slapd
):
    base = slapd.suffix
    add_ldif(
        slapd,
        f"dn: ou=external,{base}\nobjectClass: organizationalUnit\nou: external\n\n"
        f"dn: uid=cdubois,ou=external,{base}\nobjectClass: inetOrgPerson\nuid: cdubois\n"
        "cn: Someone Else\nsn: Else\n\n"
        f"dn: uid=jsilva,ou=external,{base}\nobjectClass: inetOrgPerson\nuid: jsilva\n"
        "cn: Another One\nsn: One\n",
    )
    settings = settings_for(seed, performance={"write_window": 16})
    report = run_sync(settings)
    assert report.ok
    assert sorted(error.record for error in report.errors) == [
        "person P-1 of customer 10001",
        "person P-10 of customer 10002",
    ]
    entries = tree(settings)
    foreign = {f"uid=cdubois,ou=external,{base}".lower(), f"uid=jsilva,ou=external,{base}".lower()}
    members = {m for e in entries.values() for m in e.get("member", [])}
    assert members and not members & foreign
    assert "uid=smartin,ou=external," + base.lower() in members
    again = run_sync(settings)
    assert sorted(error.record for error in again.errors) == [
        "person P-1 of customer 10001",
        "person P-10 of customer 10002",
    ]
    assert again.counts() == {}


@pytest.mark.slapd
def test_a_server_gone_while_writing_stops_with_directory_unavailable():
    server = LocalServer()
    server.start()
    try:
        settings = load_settings(
            ldap={
                "url": server.url,
                "bind_dn": server.root_dn,
                "bind_password": server.root_pw,
                "base_dn": server.suffix,
                "timeout": 2,
            }
        )
        changes = [
            Change(
                Op.ADD,
                f"ou=u{n},{server.suffix}",
                object_classes=("organizationalUnit",),
                replace={"ou": (f"u{n}",)},
            )
            for n in range(50)
        ]
        with Directory.open(settings.ldap) as directory:
            answers = directory.apply_pipelined(changes[:10], 8)
            assert all(refusal is None for _, refusal in answers)
            server.stop()
            with pytest.raises(DirectoryUnavailable):
                list(directory.apply_pipelined(changes[10:], 8))
    finally:
        server.stop()


@pytest.mark.slapd
def test_closing_the_directory_ends_the_write_connection_s_thread(settings_for, seed, slapd):
    import threading
    import time

    settings = settings_for(seed)
    before = set(threading.enumerate())
    for n in range(12):
        with Directory.open(settings.ldap) as directory:
            change = Change(
                Op.ADD_CONTAINER,
                f"ou=t{n},{slapd.suffix}",
                object_classes=("organizationalUnit",),
                replace={"ou": (f"t{n}",)},
            )
            assert [r for _, r in directory.apply_pipelined([change], 4)] == [None]

    def started_here() -> set[threading.Thread]:
        return {thread for thread in threading.enumerate() if thread not in before}

    deadline = time.monotonic() + 5
    while started_here() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert started_here() == set()
