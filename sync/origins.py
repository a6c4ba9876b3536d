"""Where each setting was set, and the settings nobody knows.

pydantic-settings ignores what it does not know: a misspelled section of the
settings file or a misspelled PORTAL_SYNC_* variable would silently leave a
default in force. Every source is checked here against the fields of the
settings, and every value is traced to where it was set, so that a message
about a setting names it the way the administrator wrote it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self, get_origin

from pydantic import BaseModel, PrivateAttr

PREFIX = "PORTAL_SYNC_"
DELIMITER = "__"
NOT_SETTINGS = frozenset(
    {
        "PORTAL_SYNC_CONFIG",
        "PORTAL_SYNC_SECRETS_DIR",
        "PORTAL_SYNC_LOGIN",
        "PORTAL_SYNC_DN",
        "PORTAL_SYNC_EMAIL",
    }
)
"""Variables that are no settings: where the settings are, and what portal-sync hands to
the initial-password command (which may well call portal-sync itself)."""

Names = dict[str, "Names | None"]
OPEN: Names = {}
"""The sub-tree of a table whose keys are free (`mapping.values`): any key is a setting."""


def known(model: type[BaseModel]) -> Names:
    """Return the setting names of a model: a sub-tree per group, None for a value."""
    tree: Names = {}
    for name, info in model.model_fields.items():
        annotation = info.annotation
        nested = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        if nested:
            tree[name] = known(annotation)  # type: ignore[arg-type]
        else:
            tree[name] = OPEN if get_origin(annotation) is dict else None
    return tree


def variable(path: Iterable[str]) -> str:
    """Return the environment variable of a setting path, e.g. PORTAL_SYNC_LDAP__URL."""
    return PREFIX + DELIMITER.join(path).upper()


def _closest(name: str, candidates: Iterable[str]) -> str | None:
    """Return the candidate most like `name`, case aside, or None when none is close."""
    spelled = {candidate.casefold(): candidate for candidate in candidates}
    found = difflib.get_close_matches(name.casefold(), list(spelled), n=1, cutoff=0.6)
    return spelled[found[0]] if found else None


def _variables(tree: Names, path: tuple[str, ...] = ()) -> list[str]:
    names = []
    for name, sub in tree.items():
        names.append(variable((*path, name)))
        if sub is not None:
            names.extend(_variables(sub, (*path, name)))
    return names


def unknown_in_file(data: Mapping[str, Any], tree: Names, file: Path) -> list[str]:
    """Return one line per section or key of a settings file that is no setting."""
    problems: list[str] = []

    def walk(table: Mapping[str, Any], sub: Names, section: tuple[str, ...]) -> None:
        for key, value in table.items():
            if key in sub:
                inner = sub[key]
                if inner is not None and inner is not OPEN and isinstance(value, Mapping):
                    walk(value, inner, (*section, key))
                continue
            is_section = isinstance(value, Mapping)
            if is_section:
                what = f"unknown section [{'.'.join((*section, key))}]"
            elif section:
                what = f"unknown key {key!r} in [{'.'.join(section)}]"
            else:
                what = f"unknown key {key!r} at the top level"
            pool = [k for k, v in sub.items() if (v is not None) == is_section] or list(sub)
            guess = _closest(key, pool)
            if guess is not None:
                hint = f"[{'.'.join((*section, guess))}]" if is_section else repr(guess)
                problems.append(f"{file}: {what}; did you mean {hint}?")
            else:
                problems.append(f"{file}: {what}; known here: {', '.join(sorted(pool))}")

    walk(data, tree, ())
    return problems


def setting_path(name: str, tree: Names) -> tuple[str, ...] | None:
    """Return the setting path an environment name (without prefix) stands for, or None."""
    path = tuple(part.lower() for part in name.split(DELIMITER))
    sub: Names | None = tree
    for part in path:
        if sub is OPEN:
            return path
        if sub is None or part not in sub:
            return None
        sub = sub[part]
    return path


def unknown_variables(names: Iterable[str], tree: Names, where: str = "") -> list[str]:
    """Return one line per PORTAL_SYNC_* name that is no setting; `where` names their file."""
    problems = []
    every = _variables(tree)
    for name in names:
        if not name.upper().startswith(PREFIX) or name.upper() in NOT_SETTINGS:
            continue
        if setting_path(name[len(PREFIX) :], tree) is not None:
            continue
        guess = _closest(name.upper(), [*every, *NOT_SETTINGS])
        hint = f"did you mean {guess}?" if guess else "see the settings in the README"
        source = f"{where}: " if where else "environment: "
        problems.append(f"{source}unknown variable {name}; {hint}")
    return problems


def unknown_secrets(folder: Path, tree: Names) -> list[str]:
    """Return one line per file of the secrets directory that is no setting."""
    problems = []
    every = [v[len(PREFIX) :].lower() for v in _variables(tree)]
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        if setting_path(path.name, tree) is not None:
            continue
        guess = _closest(path.name.lower(), every)
        hint = (
            f"did you mean {guess}?"
            if guess
            else "name it after a setting, e.g. ldap__bind_password"
        )
        problems.append(f"{path}: unknown secret file; {hint}")
    return problems


def flattened(
    data: Mapping[str, Any], tree: Names, path: tuple[str, ...] = ()
) -> list[tuple[str, ...]]:
    """Return the setting paths a nested mapping sets."""
    found = []
    for key, value in data.items():
        sub = tree.get(key) if key in tree else None
        if key in tree and sub is not None and sub is not OPEN and isinstance(value, Mapping):
            found.extend(flattened(value, sub, (*path, key)))
        else:
            found.append((*path, key))
    return found


@dataclass
class Origins:
    """Where each setting was set, in words an administrator can look up."""

    config_file: Path | None = None
    given: dict[tuple[str, ...], str] = field(default_factory=dict)

    def note(self, path: tuple[str, ...], where: str) -> None:
        """Record where a setting was set, unless a source of higher precedence already did."""
        self.given.setdefault(path, where)

    def name(self, path: tuple[str, ...]) -> str:
        """Return where the setting at `path` was set, or where it can be set."""
        for depth in range(len(path), 0, -1):
            if path[:depth] in self.given:
                return self.given[path[:depth]]
        return self.settable(path)

    def settable(self, path: tuple[str, ...]) -> str:
        """Return where a setting still at its default can be set."""
        if self.config_file is None:
            return variable(path)
        return f"{in_file(path, self.config_file)} (or {variable(path)})"


def in_file(path: tuple[str, ...], file: Path) -> str:
    """Return how a setting path reads in a settings file, e.g. "base_dn in [ldap] of FILE"."""
    if len(path) == 1:
        return f"{path[0]} in {file}"
    return f"{path[-1]} in [{'.'.join(path[:-1])}] of {file}"


class SettingGroup(BaseModel):
    """A group of settings that can say where each of its values was set.

    `load_settings` fills in the names; a group made in code names its
    settings by their environment variables.
    """

    group: ClassVar[str] = ""
    _names: dict[str, str] = PrivateAttr(default_factory=dict)

    def name_of(self, setting: str) -> str:
        """Return where `setting` of this group was set, or where it can be set."""
        return self._names.get(setting) or variable((self.group, setting))

    def named(self, names: Mapping[str, str]) -> Self:
        """Return a copy of this group whose settings are named as given."""
        copy = self.model_copy()
        copy._names = {**self._names, **names}
        return copy
