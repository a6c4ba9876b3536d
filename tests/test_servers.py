"""The real servers the flavour tests run against: Samba AD, 389-DS, replicated OpenLDAP.

These tests prove the fixtures of `servers` and record, on the real servers,
the behaviour the sync relies on or must work around (docs/test-servers.md).
"""

from __future__ import annotations

import signal
import ssl

import pytest
from ldap3 import BASE, MODIFY_REPLACE, NONE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPSocketOpenError, LDAPStrongerAuthRequiredResult

from servers import (
    DirectoryServer389,
    ReplicatedPair,
    SambaDC,
    SambaTemplate,
    tree_differences,
)
from servers.process import group_members, netns_members, port_is_open

pytest_plugins = ["servers.fixtures"]

GLOBAL_SECURITY_GROUP = -2147483646
"""groupType of a global security group: GLOBAL (0x2) | SECURITY_ENABLED (0x80000000)."""
PAGED_RESULTS = "1.2.840.113556.1.4.319"


def ad_password(password: str) -> bytes:
    """Return a password as AD's unicodePwd wants it: quoted, in UTF-16-LE."""
    return f'"{password}"'.encode("utf-16-le")


def add_ad_user(conn: Connection, ou: str, cn: str, login: str, password: str) -> str:
    """Add an enabled AD user with a password and return its DN."""
    dn = f"CN={cn},{ou}"
    conn.add(
        dn,
        ["top", "person", "organizationalPerson", "user"],
        {
            "sAMAccountName": login,
            "userPrincipalName": f"{login}@test.example.com",
            "unicodePwd": ad_password(password),
            "userAccountControl": 512,
        },
    )
    return dn


def members(conn: Connection, group: str) -> list[str]:
    """Return the member values of a group, as the server holds them."""
    conn.search(group, "(objectClass=*)", BASE, attributes=["member"])
    return [str(value) for value in conn.entries[0].member.values]


def add_many(conn: Connection, ou: str, count: int, object_classes: list[str]) -> None:
    """Add `count` entries `CN=entry-N` below `ou`, one request at a time."""
    for number in range(count):
        conn.add(f"CN=entry-{number},{ou}", object_classes)


def pages(conn: Connection, base: str, search: str, size: int) -> list[int]:
    """Search `base` page by page with the paged results control; return each page's size."""
    sizes = []
    cookie: bytes | str | None = None
    while True:
        conn.search(
            base,
            search,
            SUBTREE,
            attributes=["cn"],
            paged_size=size,
            paged_cookie=cookie,
        )
        sizes.append(len(conn.entries))
        cookie = conn.result["controls"][PAGED_RESULTS]["value"]["cookie"]
        if not cookie:
            return sizes


def test_administrator_binds_over_ldaps_only_when_the_certificate_name_is_dc1(
    samba_dc: SambaDC,
) -> None:
    with samba_dc.connection() as conn:
        assert conn.bound
        conn.search(samba_dc.base_dn, "(objectClass=domain)", BASE, attributes=["dc"])
        assert conn.entries[0].entry_dn == samba_dc.base_dn

    by_url_host = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(samba_dc.ca_file))
    server = Server(samba_dc.ldaps_url, use_ssl=True, tls=by_url_host, get_info=NONE)
    with pytest.raises(LDAPSocketOpenError, match=r"DC1\.test\.example\.com.*127\.0\.0\.1"):
        Connection(server, samba_dc.admin_dn, samba_dc.admin_password, auto_bind=True)


def test_a_simple_bind_in_clear_is_refused_and_starttls_is_accepted(samba_dc: SambaDC) -> None:
    clear = Connection(
        samba_dc.server(ldaps=False),
        samba_dc.admin_dn,
        samba_dc.admin_password,
        raise_exceptions=True,
    )
    with pytest.raises(LDAPStrongerAuthRequiredResult, match="Transport encryption required"):
        clear.bind()
    clear.unbind()

    encrypted = Connection(
        samba_dc.server(ldaps=False),
        samba_dc.admin_dn,
        samba_dc.admin_password,
        raise_exceptions=True,
    )
    encrypted.open()
    encrypted.start_tls()
    assert encrypted.bind()
    encrypted.unbind()


def test_a_user_with_a_unicodepwd_set_over_ldaps_binds_by_dn_and_by_upn(
    samba_dc: SambaDC, samba_ou: str
) -> None:
    with samba_dc.connection() as admin:
        dn = add_ad_user(admin, samba_ou, "Ann Example", "ann.example", "Ann-Secret-1")
        admin.search(dn, "(objectClass=*)", BASE, attributes=["userAccountControl"])
        assert int(admin.entries[0].userAccountControl.value) == 512

    with samba_dc.connection(dn, "Ann-Secret-1") as by_dn:
        assert by_dn.bound
    with samba_dc.connection("ann.example@test.example.com", "Ann-Secret-1") as by_upn:
        assert by_upn.bound


def test_renaming_a_user_makes_ad_rewrite_the_group_member_value(
    samba_dc: SambaDC, samba_ou: str
) -> None:
    with samba_dc.connection() as admin:
        user = add_ad_user(admin, samba_ou, "Ben Example", "ben.example", "Ben-Secret-1")
        group = f"CN=order-1001,{samba_ou}"
        admin.add(
            group,
            ["top", "group"],
            {"sAMAccountName": "order-1001", "groupType": GLOBAL_SECURITY_GROUP, "member": [user]},
        )
        admin.search(group, "(objectClass=*)", BASE, attributes=["groupType"])
        assert int(admin.entries[0].groupType.value) == GLOBAL_SECURITY_GROUP

        admin.modify_dn(user, "CN=Ben Renamed")

        assert members(admin, group) == [f"CN=Ben Renamed,{samba_ou}"]


def test_a_paged_search_returns_all_1100_entries_and_samba_ignores_the_1000_limit(
    samba_dc: SambaDC, samba_ou: str
) -> None:
    with samba_dc.connection() as admin:
        add_many(admin, samba_ou, 1100, ["top", "contact"])

        assert pages(admin, samba_ou, "(objectClass=contact)", 500) == [500, 500, 100]

        admin.search(samba_ou, "(objectClass=contact)", SUBTREE, attributes=["cn"])
        assert len(admin.entries) == 1100, "Windows AD would stop at 1,000 (sizeLimitExceeded)"


def test_a_fresh_domain_controller_from_the_template_stops_leaving_nothing_behind(
    samba_template: SambaTemplate,
) -> None:
    dc = SambaDC(samba_template)
    dc.start()
    try:
        with dc.connection() as conn:
            assert conn.bound
        pid, netns, directory = dc.pid, dc.netns, dc.directory
        ports = [dc.ldaps_port, dc.ldap_port]
        assert netns is not None
        assert netns_members(netns)
    finally:
        dc.stop()

    assert group_members(pid) == []
    assert netns_members(netns) == []
    assert not any(port_is_open(port) for port in ports)
    assert not directory.parent.exists()


def test_389_adds_an_ou_a_user_and_a_group_and_the_user_binds(
    dirsrv: DirectoryServer389, dirsrv_ou: str
) -> None:
    user = f"uid=cara,{dirsrv_ou}"
    group = f"cn=order-2001,{dirsrv_ou}"
    with dirsrv.connection() as admin:
        admin.add(
            user,
            ["inetOrgPerson"],
            {"cn": "Cara Example", "sn": "Example", "userPassword": "Cara-Secret-1"},
        )
        admin.add(group, ["groupOfNames"], {"member": [user]})
        admin.search(user, "(objectClass=*)", BASE, attributes=["memberOf"])
        assert admin.entries[0].memberOf.values == [group]

    with dirsrv.connection(user, "Cara-Secret-1") as as_user:
        assert as_user.bound


def test_389_referential_integrity_follows_a_rename_and_a_delete(
    dirsrv: DirectoryServer389, dirsrv_ou: str
) -> None:
    with dirsrv.connection() as admin:
        dara, eli = f"uid=dara,{dirsrv_ou}", f"uid=eli,{dirsrv_ou}"
        for dn, name in ((dara, "Dara"), (eli, "Eli")):
            admin.add(dn, ["inetOrgPerson"], {"cn": name, "sn": name})
        group = f"cn=order-2002,{dirsrv_ou}"
        admin.add(group, ["groupOfNames"], {"member": [dara, eli]})

        admin.modify_dn(dara, "uid=dara.renamed")
        assert sorted(members(admin, group)) == sorted([f"uid=dara.renamed,{dirsrv_ou}", eli])

        admin.delete(eli)
        assert members(admin, group) == [f"uid=dara.renamed,{dirsrv_ou}"]


def test_389_pages_a_search_as_directory_manager(
    dirsrv: DirectoryServer389, dirsrv_ou: str
) -> None:
    with dirsrv.connection() as admin:
        add_many(admin, dirsrv_ou, 250, ["organizationalRole"])

        assert pages(admin, dirsrv_ou, "(objectClass=organizationalRole)", 100) == [100, 100, 50]


def test_389_killed_by_pid_starts_again_on_its_data(
    dirsrv: DirectoryServer389, dirsrv_ou: str
) -> None:
    pid = dirsrv.pid
    dirsrv.halt(signal.SIGKILL)
    assert group_members(pid) == []
    assert not port_is_open(dirsrv.port)

    dirsrv.start()

    with dirsrv.connection() as admin:
        assert admin.search(dirsrv_ou, "(objectClass=*)", BASE)


def test_a_write_on_either_provider_reaches_the_other(
    slapd_pair: ReplicatedPair, slapd_pair_ou: str
) -> None:
    first_write = f"cn=from-first,{slapd_pair_ou}"
    with slapd_pair.first.connection() as conn:
        conn.add(first_write, ["organizationalRole"])
    slapd_pair.wait_for(slapd_pair.second, first_write)

    second_write = f"cn=from-second,{slapd_pair_ou}"
    with slapd_pair.second.connection() as conn:
        conn.add(second_write, ["organizationalRole"])
    slapd_pair.wait_for(slapd_pair.first, second_write)

    assert slapd_pair.differences(slapd_pair_ou) == []


def test_a_provider_stopped_by_pid_catches_up_when_started_again(
    slapd_pair: ReplicatedPair, slapd_pair_ou: str
) -> None:
    kept, renamed, dropped = (
        f"cn={name},{slapd_pair_ou}" for name in ("kept", "renamed", "dropped")
    )
    with slapd_pair.first.connection() as conn:
        for dn in (kept, renamed, dropped):
            conn.add(dn, ["organizationalRole"])
    slapd_pair.wait_converged(slapd_pair_ou)

    pid = slapd_pair.second.pid
    slapd_pair.second.halt()
    assert not port_is_open(int(slapd_pair.second.port))
    assert group_members(pid) == []
    with slapd_pair.first.connection() as conn:
        conn.modify(
            kept, {"description": [(MODIFY_REPLACE, ["changed while provider 2 was down"])]}
        )
        conn.modify_dn(renamed, "cn=renamed-while-down")
        conn.delete(dropped)
        conn.add(f"cn=added-while-down,{slapd_pair_ou}", ["organizationalRole"])

    slapd_pair.second.resume()
    slapd_pair.wait_converged(slapd_pair_ou)

    with slapd_pair.second.connection() as conn:
        conn.search(
            slapd_pair_ou, "(objectClass=organizationalRole)", SUBTREE, attributes=["description"]
        )
        assert sorted(entry.entry_dn.split(",")[0] for entry in conn.entries) == [
            "cn=added-while-down",
            "cn=kept",
            "cn=renamed-while-down",
        ]


def test_tree_differences_name_missing_and_differing_entries() -> None:
    first = {
        "ou=a,dc=x": {"ou": ["a"]},
        "cn=b,ou=a,dc=x": {"cn": ["b"], "description": ["old"]},
    }
    second = {
        "cn=b,ou=a,dc=x": {"cn": ["b"], "description": ["new"]},
        "cn=c,ou=a,dc=x": {"cn": ["c"]},
    }

    assert tree_differences(first, second) == [
        "differs: cn=b,ou=a,dc=x: description",
        "only on the second: cn=c,ou=a,dc=x",
        "only on the first: ou=a,dc=x",
    ]
    assert tree_differences(first, first) == []
