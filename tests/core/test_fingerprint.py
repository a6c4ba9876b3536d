"""The state's fingerprint changes with everything besides the source that shapes the entries.

A run whose source file is the one the last clean run applied plans nothing
unless the fingerprint changed: whatever the fingerprint misses is a setting
whose change the directory never sees (until the nightly full run).
"""

from __future__ import annotations

from pathlib import Path

from sync.core.digest import fingerprint
from sync.core.grants import AccessRules
from sync.core.tree import Layout, Tree
from sync.ldap.flavour import load_mapping

URL = "ldap://127.0.0.1:389"
TREE = Tree(Layout(), "dc=example,dc=org")
OPENLDAP = load_mapping("openldap")
RULES = AccessRules()
MAPPINGS = Path(__file__).parent.parent.parent / "mappings"


def test_the_same_settings_give_the_same_fingerprint():
    assert fingerprint(URL, TREE, load_mapping("openldap"), AccessRules()) == fingerprint(
        URL, TREE, OPENLDAP, RULES
    )


def test_an_access_rule_changes_the_fingerprint():
    allowed = AccessRules(agency_without_customer_access=True)
    assert fingerprint(URL, TREE, OPENLDAP, allowed) != fingerprint(URL, TREE, OPENLDAP, RULES)


def test_a_value_the_settings_give_the_mapping_changes_the_fingerprint():
    one = load_mapping("active-directory", {"upn_suffix": "one.example"})
    other = load_mapping("active-directory", {"upn_suffix": "other.example"})
    assert fingerprint(URL, TREE, one, RULES) != fingerprint(URL, TREE, other, RULES)


def test_a_limit_of_the_mapping_file_changes_the_fingerprint(tmp_path):
    shipped = MAPPINGS / "openldap.toml"
    text = shipped.read_text(encoding="utf-8")
    assert "[kinds.external.attributes]" in text
    longer = tmp_path / "limited.toml"
    longer.write_text(
        text.replace(
            "[kinds.external.attributes]",
            "[kinds.external.max_length]\ncn = 40\n\n[kinds.external.attributes]",
            1,
        ),
        encoding="utf-8",
    )
    limited = load_mapping(str(longer))
    assert fingerprint(URL, TREE, limited, RULES) != fingerprint(
        URL, TREE, load_mapping(str(shipped)), RULES
    )


def test_the_layout_and_the_server_change_the_fingerprint():
    renamed = Tree(Layout(order_group_name="job-{id}"), "dc=example,dc=org")
    assert fingerprint(URL, renamed, OPENLDAP, RULES) != fingerprint(URL, TREE, OPENLDAP, RULES)
    assert fingerprint("ldap://other:389", TREE, OPENLDAP, RULES) != fingerprint(
        URL, TREE, OPENLDAP, RULES
    )
