"""The plan as LDIF: readable by OpenLDAP's tools, and exactly the entries the sync creates."""

from __future__ import annotations

import base64
import subprocess

from benchmarks.generate import generate
from sync.core.change import Change, Op
from sync.core.ldif import change_record, ldif
from sync.ldap.directory import Directory
from sync.ldap.flavour import load_mapping
from sync.run.current import read_current
from sync.run.prepare import prepare
from sync.run.sync import run_sync


def parse(text: str) -> list[dict[str, list[str]]]:
    """Return the records of an LDIF text as {attribute: values}, decoding base64 values."""
    records = []
    for block in text.split("\n\n"):
        record: dict[str, list[str]] = {}
        for line in block.splitlines():
            if line in ("-", "version: 1"):
                continue
            name, _, value = line.partition(":")
            if value.startswith(":"):
                value = base64.b64decode(value[1:].strip()).decode("utf-8")
            else:
                value = value[1:] if value.startswith(" ") else value
            record.setdefault(name, []).append(value)
        if record:
            records.append(record)
    return records


def test_unsafe_values_are_base64_and_come_back_unchanged():
    values = ("Lefèvre", " leading space", "trailing space ", ":colon", "<angle", "plain")
    change = Change(
        Op.ADD, "uid=é\\, x,dc=example,dc=org", object_classes=("top",), replace={"sn": values}
    )
    text = change_record(change)
    assert "sn: plain" in text
    assert "sn:: " in text
    (record,) = parse(text)
    assert record["sn"] == list(values)
    assert record["dn"] == ["uid=é\\, x,dc=example,dc=org"]


def test_a_modify_record_replaces_adds_and_deletes_values():
    change = Change(
        Op.MODIFY,
        "cn=g,dc=example,dc=org",
        replace={"mail": ()},
        add_values={"member": ("uid=a,dc=x",)},
        delete_values={"member": ("uid=b,dc=x",)},
    )
    assert change_record(change).splitlines() == [
        "dn: cn=g,dc=example,dc=org",
        "changetype: modify",
        "replace: mail",
        "-",
        "add: member",
        "member: uid=a,dc=x",
        "-",
        "delete: member",
        "member: uid=b,dc=x",
        "-",
        "",
    ]


def test_a_rename_to_another_ou_names_the_new_superior():
    change = Change(
        Op.RENAME, "uid=a,ou=x,dc=example,dc=org", new_dn="uid=b,ou=y,dc=example,dc=org"
    )
    lines = change_record(change).splitlines()
    assert lines[1:] == [
        "changetype: modrdn",
        "newrdn: uid=b",
        "deleteoldrdn: 1",
        "newsuperior: ou=y,dc=example,dc=org",
        "",
    ]


def test_the_dry_run_ldif_holds_exactly_the_desired_entries(settings_for):
    settings = settings_for(generate("XS", seed=4))
    report = run_sync(settings, dry_run=True)
    records = parse("".join(ldif(report.changes)))
    desired = prepare(settings).desired
    by_dn = {r["dn"][0]: r for r in records}
    assert len(records) == len(desired.entries) + len(desired.containers)
    for entry in desired.entries.values():
        record = by_dn[entry.dn]
        for name, values in entry.attributes.items():
            assert record.get(name, []) == list(values), (entry.dn, name)


def test_ldapadd_of_the_ldif_then_a_sync_makes_no_write(settings_for, slapd, tmp_path):
    settings = settings_for(generate("XS", seed=5))
    report = run_sync(settings, dry_run=True)
    path = tmp_path / "plan.ldif"
    path.write_text("".join(ldif(report.changes)), encoding="utf-8")
    subprocess.run(
        [
            "ldapadd",
            "-x",
            "-H",
            slapd.url,
            "-D",
            slapd.root_dn,
            "-w",
            slapd.root_pw,
            "-f",
            str(path),
        ],
        check=True,
        capture_output=True,
    )
    with Directory.open(settings.ldap) as directory:
        written = read_current(directory, settings, load_mapping("openldap"))
    assert len(written) == len(prepare(settings).desired.entries)
    after = run_sync(settings, full=True)
    assert after.ok and not after.errors
    assert after.counts() == {}
