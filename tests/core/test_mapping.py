"""Mappings are data: checked when loaded, interpreted the same way for every flavour."""

from __future__ import annotations

import pytest

from sync.core.mapping import MappingError, parse_mapping
from sync.ldap.flavour import load_mapping

from core_helpers import desired_of

AD_LIKE = """
flavour = "activedirectory"
[identity]
attribute = "adminDescription"
prefix = "portal-sync:"
[container]
object_classes = ["organizationalUnit"]
[kinds.internal]
object_classes = ["top", "person", "organizationalPerson", "user"]
rdn = "cn"
[kinds.internal.attributes]
cn = "{login}"
sAMAccountName = "{login}"
userPrincipalName = "{login}@druckerei.example"
userAccountControl = "512"
[kinds.external]
object_classes = ["top", "person", "organizationalPerson", "user"]
rdn = "cn"
[kinds.external.attributes]
cn = "{login}"
sAMAccountName = "{login}"
company = "{customer_name}"
[kinds.customer]
object_classes = ["top", "group"]
rdn = "cn"
members = "member"
[kinds.customer.attributes]
cn = "{group_name}"
sAMAccountName = "{group_name}"
[kinds.order]
object_classes = ["top", "group"]
rdn = "cn"
members = "member"
[kinds.order.attributes]
cn = "{group_name}"
[kinds.role]
object_classes = ["top", "group"]
rdn = "cn"
members = "member"
[kinds.role.attributes]
cn = "{group_name}"
"""


def test_shipped_openldap_mapping_loads():
    mapping = load_mapping("openldap")
    assert mapping.identity_attribute == "businesscategory"
    assert mapping.kinds["external"].object_classes == ("inetOrgPerson",)


def test_another_flavour_is_a_new_file_not_new_code(seed, tmp_path):
    path = tmp_path / "ad.toml"
    path.write_text(AD_LIKE)
    mapping = load_mapping(str(path))
    desired, _ = desired_of(seed, mapping=mapping)
    claire = desired.entries["external:P-1"]
    assert claire.dn.startswith("cn=cdubois,ou=external,")
    assert claire.attributes["samaccountname"] == ("cdubois",)
    assert claire.attributes["admindescription"] == ("portal-sync:external:P-1",)
    assert desired.entries["internal:U-1"].attributes["useraccountcontrol"] == ("512",)


def test_unknown_template_field_is_refused_with_the_known_ones():
    broken = AD_LIKE.replace('company = "{customer_name}"', 'company = "{customer}"')
    with pytest.raises(
        MappingError, match=r"kinds.external.attributes.company: unknown field \{customer\}"
    ):
        parse_mapping(broken, "ad.toml")


def test_template_attribute_access_is_refused():
    broken = AD_LIKE.replace('company = "{customer_name}"', 'company = "{login.__class__}"')
    with pytest.raises(MappingError, match="unknown field"):
        parse_mapping(broken, "ad.toml")


def test_missing_kind_is_refused():
    broken = AD_LIKE.split("[kinds.role]")[0]
    with pytest.raises(MappingError, match="no mapping for kind"):
        parse_mapping(broken, "ad.toml")


def test_unmapped_naming_attribute_is_refused():
    broken = AD_LIKE.replace(
        'rdn = "cn"\n[kinds.internal.attributes]', 'rdn = "uid"\n[kinds.internal.attributes]'
    )
    with pytest.raises(MappingError, match="naming attribute uid is not mapped"):
        parse_mapping(broken, "ad.toml")


def test_unknown_flavour_name_is_refused():
    with pytest.raises(MappingError, match="no shipped mapping named"):
        load_mapping("novell")


def test_every_shipped_flavour_loads_with_its_password_capabilities():
    openldap, dirsrv = load_mapping("openldap"), load_mapping("389ds")
    ad = load_mapping("active-directory", {"upn_suffix": "druckerei.example"})
    assert (openldap.password_write, openldap.takes_source_hash) == ("password-modify", True)
    assert (dirsrv.password_write, dirsrv.takes_source_hash) == ("password-modify", True)
    assert (ad.password_write, ad.takes_source_hash) == ("unicodePwd", False)
    assert ad.kinds["internal"].max_length["samaccountname"] == 20
    assert ad.kinds["external"].render_disabled() == {"useraccountcontrol": ("514",)}
    assert dirsrv.kinds["external"].render_disabled() == {"nsaccountlock": ("true",)}


def test_a_login_over_the_length_limit_is_a_record_error_and_its_entry_is_protected(seed):
    seed["customers"][0]["persons"][0]["account"]["login"] = "c" * 21
    mapping = load_mapping("active-directory", {"upn_suffix": "druckerei.example"})
    desired, quarantine = desired_of(seed, mapping=mapping)
    assert "external:P-1" not in desired.entries and "external:P-1" in quarantine.keys
    [error] = [e for e in desired.errors if "P-1" in e.record]
    assert "has 21 characters" in error.problem and "at most 20" in error.problem


def test_a_length_limit_names_a_mapped_attribute():
    text = AD_LIKE.replace(
        "[kinds.order]", "[kinds.customer.max_length]\nmail = 20\n[kinds.order]", 1
    )
    with pytest.raises(MappingError, match=r"max_length\.mail: only a mapped attribute"):
        parse_mapping(text, "test")
