"""What a run reads and keeps to tell portal-sync's entries from others (`sync.core.ownership`).

The unique IDs (entryUUID) of the entries portal-sync added or read as its
own are kept in the state directory, in a file of their own: unlike the
incremental state, which is a cache a full run ignores, they are what
tells a copied entry from the original in every run, full ones included.
Losing the file costs only that: the next runs fall back on the DN the
source gives, and record the IDs again.

Logins held by entries portal-sync does not own are found with one paged
search below the base DN per full run (user entries without its identity
value), and per incremental run with a search for the logins it plans.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterable
from pathlib import Path

from sync.core import dn as dnlib
from sync.core.change import Change, Op
from sync.core.entry import EntryKey, Kind
from sync.core.mapping import Mapping
from sync.core.ownership import Owners
from sync.files import keep_private
from sync.ldap.directory import Directory
from sync.ldap.flavour import unique_id_attribute
from sync.settings import Settings

log = logging.getLogger("portal_sync")

FILE_NAME = "owners.json"
FORMAT = 1
CHUNK = 200
"""Logins per search filter in an incremental run."""
READ_BACK = 1000
"""At most this many added entries have their unique IDs read back in the run that added
them; more (a first load, a bulk import) wait for the next full run, which reads every
entry anyway: reading them back costs about as much as that read."""


def load_owners(state_dir: Path, mapping: Mapping) -> Owners:
    """Return the recorded unique IDs (none when the file is missing, unreadable or foreign)."""
    attribute = unique_id_attribute(mapping).lower()
    path = state_dir / FILE_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        recorded = data["owners"]
        if data.get("format") != FORMAT or data.get("attribute") != attribute:
            raise ValueError("written for another format or directory flavour")
        if not isinstance(recorded, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in recorded.items()
        ):
            raise ValueError("owners must map keys to unique IDs")
    except FileNotFoundError:
        return Owners(attribute)
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring the recorded entry IDs %s: %s", path, exc)
        return Owners(attribute)
    return Owners(attribute, recorded)


def save_owners(state_dir: Path, owners: Owners) -> str:
    """Write the unique IDs; return "" or, when they cannot be written, a warning.

    A file not written costs only the check by ID: the next runs fall back on
    the DN the source gives, and record the IDs again.
    """
    path = state_dir / FILE_NAME
    text = json.dumps(
        {"format": FORMAT, "attribute": owners.attribute, "owners": dict(owners.recorded)},
        separators=(",", ":"),
    )
    return keep_private(path, text, "the recorded entry IDs", log)


def added_ids(
    directory: Directory, settings: Settings, mapping: Mapping, changes: Iterable[Change]
) -> dict[str, str]:
    """Return the unique IDs of the entries these confirmed changes added, by key.

    One search per kind (and per 200 entries) for their identities; the
    entry at the DN the run added is the one taken. None past READ_BACK adds.
    """
    added: dict[str, str] = {}
    for change in changes:
        if change.op is Op.ADD and change.key is not None:
            added[change.key] = dnlib.normalize_dn(change.dn)
    if len(added) > READ_BACK:
        log.info("%d entries added: their unique IDs are recorded by the next full run", len(added))
        return {}
    attribute = unique_id_attribute(mapping)
    identity = mapping.identity_attribute
    found: dict[str, str] = {}
    for kind in Kind:
        keys = [key for key in added if EntryKey.kind(key) is kind]
        if not keys:
            continue
        values = [mapping.identity_value(key) for key in keys]
        for dn, attributes in directory.read_identities(
            [settings.tree.base(kind)], identity, values, (identity, attribute)
        ):
            key = mapping.key_in(attributes)
            unique = attributes.get(attribute.lower(), ())
            if key is not None and unique and added.get(key) == dnlib.normalize_dn(dn):
                found[key] = unique[0]
    return found


def foreign_logins(
    directory: Directory, settings: Settings, mapping: Mapping, logins: Collection[str] | None
) -> dict[str, list[str]]:
    """Return the user entries below the base DN that hold a login and are not portal-sync's.

    A login is the value of a user kind's naming attribute, as portals look
    it up (`sync.portal.login`); an entry is portal-sync's when it carries
    its identity value. With `logins` (an incremental run) only these are
    looked for. Returns case-folded login -> the DNs holding it.
    """
    not_ours = (
        f"(!({mapping.identity_attribute}={dnlib.escape_filter_value(mapping.identity_prefix)}*))"
    )
    kinds = {
        (mapping.kinds[kind].rdn, mapping.kinds[kind].object_classes)
        for kind in (Kind.INTERNAL, Kind.EXTERNAL)
    }
    attributes = sorted({naming for naming, _ in kinds})
    pending = sorted(set(logins)) if logins is not None else None
    chunks = (
        [None]
        if pending is None
        else [pending[i : i + CHUNK] for i in range(0, len(pending), CHUNK)]
    )
    held: dict[str, list[str]] = {}
    for chunk in chunks:
        terms = []
        for naming, classes in sorted(kinds):
            classes_filter = "".join(
                f"(objectClass={dnlib.escape_filter_value(c)})" for c in classes
            )
            if chunk is None:
                values = f"({naming}=*)"
            else:
                values = "".join(f"({naming}={dnlib.escape_filter_value(v)})" for v in chunk)
                values = f"(|{values})"
            terms.append(f"(&{classes_filter}{values})")
        query = f"(&{not_ours}(|{''.join(terms)}))"
        for dn, found in directory.search(settings.tree.base_dn, query, attributes):
            for naming in attributes:
                for value in found.get(naming.lower(), ()):
                    held.setdefault(value.casefold(), []).append(dn)
    return held
