"""A bare ldap3 paged search of the entries portal-sync manages: the floor of a full read.

Reads the same subtrees, filter and attributes as a full reconciliation,
with the settings portal-sync would use, and does nothing with the entries.
"""

from __future__ import annotations

from ldap3 import NONE, SUBTREE, Connection, Server

from sync.core.entry import Kind
from sync.ldap.flavour import load_mapping
from sync.settings import load_settings


def main() -> None:
    """Search every managed entry once; print how many were found."""
    settings = load_settings()
    mapping = load_mapping(settings.mapping.path)
    connection = Connection(
        Server(settings.ldap.url, get_info=NONE),
        user=settings.ldap.bind_dn,
        password=settings.ldap.bind_password.get_secret_value(),
        auto_bind=True,
    )
    found = 0
    for kind in Kind:
        for item in connection.extend.standard.paged_search(
            settings.tree.base(kind),
            f"({mapping.identity_attribute}={mapping.identity_prefix}*)",
            SUBTREE,
            attributes=list(mapping.attributes_read()),
            paged_size=settings.ldap.page_size,
            generator=True,
        ):
            found += item.get("type") == "searchResEntry"
    connection.unbind()
    print(found)


if __name__ == "__main__":
    main()
