"""The directory flavour: the mapping of a shipped flavour (mappings/*.toml) or of a file.

Every room that needs the mapping loads it here, once per run or command.
"""

from __future__ import annotations

from collections.abc import Mapping as AbstractMapping
from importlib import resources
from pathlib import Path

from sync.core.mapping import Mapping, MappingError, parse_mapping
from sync.settings import is_mapping_file

UNIQUE_ID = {"active-directory": "objectGUID", "389ds": "nsUniqueId"}
"""The attribute holding an entry's unique ID, by flavour; entryUUID (RFC 4530) for others."""


def load_mapping(name_or_path: str, values: AbstractMapping[str, str] | None = None) -> Mapping:
    """Return the mapping of a shipped flavour (e.g. "openldap") or of a TOML file.

    `values` are the settings' `mapping.values`: what the mapping leaves open
    (the UPN suffix of the AD mapping).
    """
    if is_mapping_file(name_or_path):
        path = Path(name_or_path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise MappingError(f"{path}: cannot read the mapping: {exc.strerror}") from exc
        origin = str(path)
    else:
        shipped = resources.files("sync.mappings").joinpath(f"{name_or_path}.toml")
        if not shipped.is_file():
            raise MappingError(f"no shipped mapping named {name_or_path!r}")
        text = shipped.read_text(encoding="utf-8")
        origin = f"mappings/{name_or_path}.toml"
    return parse_mapping(text, origin, values)


def unique_id_attribute(mapping: Mapping) -> str:
    """Return the attribute that holds the server-assigned unique ID of an entry.

    It never changes while the entry lives (a rename keeps it), and nobody
    can give it to another entry: of two entries carrying one identity, the
    one whose ID portal-sync recorded is its own (`sync.core.ownership`).
    """
    return UNIQUE_ID.get(mapping.flavour, "entryUUID")
