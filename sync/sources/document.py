"""Reading a source document: syntax errors stop the run, bad records do not.

A document that is not JSON/YAML, or of an unknown format version, is a
`SourceError` raised before anything touches the directory. A record that
fails its model is cut out of the document, reported, and its entries are
quarantined; the rest of the document is read as usual.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from sync.core.entry import EntryKey, Kind
from sync.core.model import FORMAT_VERSION, Customer, Document, InternalUser, Order
from sync.core.problems import Problem, Quarantine, RecordError
from sync.core.rules import keep_fields_read
from sync.errors import SourceError

_RECORD_LISTS = {"internal_users": "internal user", "customers": "customer", "orders": "order"}


@dataclass
class LoadedDocument:
    """A document with its bad records cut out, and what that cost."""

    document: Document
    errors: list[RecordError]
    quarantine: Quarantine
    raw: Any = None
    """The parsed document as it was read, bad records included (see sync.core.rules)."""
    invalid: set[int] = field(default_factory=set)
    """The `id()` of every record of `raw` that failed its model (cut out of `document`)."""


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's loader when PyYAML has it (the wheels do): about ten times faster."""
_LOOK = 65536
"""Characters looked at to tell a document from junk before parsing it."""
_MAPPING_KEY = re.compile(
    r"""(?:"[^"\n]*"|'[^'\n]*'|[^\s#:?\-\[\]{},&*!|>'"%@`][^\n]*?)\s*:(?:\s|$)"""
)


def _is_yaml(name: str) -> bool:
    return name.endswith((".yaml", ".yml"))


def _first_content(text: str) -> tuple[int, str]:
    """Return the number and text of the first line of a YAML text holding content."""
    for number, line in enumerate(text[:_LOOK].splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("---"):
            stripped = stripped[3:].strip()
        if not stripped or stripped.startswith(("#", "%", "...")):
            continue
        return number, line.lstrip()
    return 0, ""


def refuse_junk(text: str, name: str) -> None:
    """Raise SourceError when the text cannot be a source document, judged by its start.

    A source document is an object (a mapping): JSON starts with `{`, YAML with
    `{` or a `key:` line. A file that starts otherwise is refused before the
    parser reads megabytes of it.
    """
    if _is_yaml(name):
        number, line = _first_content(text)
        if number and (line.startswith(("{", "? ")) or _MAPPING_KEY.match(line)):
            return
        where = f"line {number} starts with {line[:40]!r}" if number else "it holds no content"
        raise SourceError(
            f"{name}: not a source document: {where}; a source document is a YAML mapping "
            "(format_version: 1, customers: ...)"
        )
    start = text[:_LOOK].lstrip()
    if not start.startswith("{"):
        raise SourceError(
            f"{name}: not a source document: it starts with {start[:40]!r}; a source document "
            'is a JSON object ({"format_version": 1, "customers": ...})'
        )


def parse_text(text: str, name: str) -> Any:
    """Return the data of a JSON or YAML text, or raise SourceError with line and column."""
    if not text or text.isspace():
        raise SourceError(
            f"{name}: the file is empty; an export that was cut off or not written yet "
            "is refused, nothing was changed"
        )
    refuse_junk(text, name)
    if _is_yaml(name):
        try:
            return yaml.load(text, Loader=_YAML_LOADER)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            where = (
                f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
            )
            raise SourceError(f"{name}: not valid YAML at {where}: {exc.problem}") from exc
        except yaml.YAMLError as exc:
            raise SourceError(f"{name}: not valid YAML: {exc}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(
            f"{name}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc


def read_document(
    path: Path, max_size: int | None = None, limit_setting: str = "source.max_size"
) -> LoadedDocument:
    """Return the document stored at `path`, refusing a file above `max_size` bytes unread.

    Junk is refused by its first bytes, before the rest of the file is read.
    A UTF-8 byte order mark, as Windows tools write it, is skipped.
    """
    try:
        size = path.stat().st_size
        if max_size is not None and size > max_size:
            raise SourceError(
                f"{path}: the file has {size:,} bytes, more than the limit of {max_size:,} "
                f"bytes: nothing was read; if the export is really that large, raise "
                f"{limit_setting}"
            )
        with path.open("rb") as stream:
            head = stream.read(_LOOK)
            start = head.decode("utf-8-sig", errors="ignore")
            if start and not start.isspace():
                refuse_junk(start, str(path))
            data = head + stream.read()
    except OSError as exc:
        raise SourceError(f"{path}: cannot read the source document: {exc.strerror}") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: not UTF-8 text at byte {exc.start}") from exc
    parsed = parse_text(text, str(path))
    del text  # the bytes are kept for a second reading; the text is twice their size
    return _load_own(parsed, data, str(path))


_RECORD_MODELS: dict[str, TypeAdapter[Any]] = {
    "internal_users": TypeAdapter(InternalUser),
    "customers": TypeAdapter(Customer),
    "orders": TypeAdapter(Order),
}


def _load_own(data: Any, source: bytes, name: str) -> LoadedDocument:
    """Return the document in data parsed from `source` (UTF-8), which no one else holds.

    Each record is validated on its own and then loses the fields the grants
    do not read (`sync.core.rules.keep_fields_read`), so the parsed text
    and the models are not both whole in memory at once. When a record
    fails its model, the source is parsed again and read by `load_data`, which
    names every bad record as before.
    """
    _check_shape(data, name)
    records: dict[str, list[BaseModel]] = {}
    try:
        for list_name, adapter in _RECORD_MODELS.items():
            valid = records[list_name] = []
            for record in data.get(list_name, []):
                valid.append(adapter.validate_python(record))
                keep_fields_read(record)
        document = Document.model_validate({"format_version": FORMAT_VERSION, **records})
    except ValidationError:
        records.clear()
        data.clear()  # partly stripped: read again whole, for the messages
        return load_data(parse_text(source.decode("utf-8-sig"), name), name)
    return LoadedDocument(document, [], Quarantine(), data)


def _check_shape(data: Any, name: str) -> None:
    """Raise SourceError unless the data is a document of this format with lists of records."""
    if not isinstance(data, dict):
        raise SourceError(f"{name}: the document must be an object with format_version")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise SourceError(
            f"{name}: unknown format_version {version!r}; this version reads {FORMAT_VERSION}"
        )
    for list_name in _RECORD_LISTS:
        if not isinstance(data.get(list_name, []), list):
            raise SourceError(f"{name}: '{list_name}' must be a list")


def load_data(data: Any, name: str = "source") -> LoadedDocument:
    """Return the document in already parsed data, cutting out records that fail their model."""
    _check_shape(data, name)
    original = data
    try:
        return LoadedDocument(Document.model_validate(data), [], Quarantine(), original)
    except ValidationError:
        copies: dict[int, Any] = {}
        data = copy.deepcopy(data, copies)
    originals = {id(value): key for key, value in copies.items() if isinstance(value, dict)}
    errors: list[RecordError] = []
    quarantine = Quarantine()
    invalid: set[int] = set()
    while True:
        try:
            document = Document.model_validate(data)
        except ValidationError as exc:
            bad = _bad_records(exc, name)
            for path, problems in bad.items():
                record = _describe(data, path)
                key, owner = _keys(data, path)
                errors.extend(
                    RecordError(record, problem, key, owner, Problem.INVALID)
                    for problem in problems
                )
                _quarantine(data, path, quarantine)
                cut = originals.get(id(_record(data, path)))
                if cut is not None:  # a record that is no object is not read at all
                    invalid.add(cut)
            _cut(data, bad)
            continue
        return LoadedDocument(document, errors, quarantine, original, invalid)


def _record(data: dict[str, Any], path: tuple[Any, ...]) -> Any:
    record = data[path[0]][path[1]]
    return record["persons"][path[3]] if len(path) == 4 else record


def _keys(data: dict[str, Any], path: tuple[Any, ...]) -> tuple[str | None, str | None]:
    """Return the entry key of the record at `path` and, for a person, its customer's."""
    record = data[path[0]][path[1]]
    own = _raw_id(record)
    if len(path) == 4:
        person = _raw_id(record["persons"][path[3]])
        owner = EntryKey.of(Kind.CUSTOMER, own) if own else None
        return (EntryKey.of(Kind.EXTERNAL, person) if person else None), owner
    kinds = {"internal_users": Kind.INTERNAL, "customers": Kind.CUSTOMER, "orders": Kind.ORDER}
    return (EntryKey.of(kinds[path[0]], own) if own else None), None


def _bad_records(exc: ValidationError, name: str) -> dict[tuple[Any, ...], list[str]]:
    """Return the record paths that failed, each with its problems."""
    bad: dict[tuple[Any, ...], list[str]] = {}
    for error in exc.errors():
        loc = error["loc"]
        if len(loc) < 2 or loc[0] not in _RECORD_LISTS or not isinstance(loc[1], int):
            raise SourceError(f"{name}: {'.'.join(map(str, loc))}: {error['msg']}") from exc
        if loc[0] == "customers" and len(loc) >= 4 and loc[2] == "persons":
            path, rest = loc[:4], loc[4:]
        else:
            path, rest = loc[:2], loc[2:]
        field = ".".join(map(str, rest))
        problem = f"{field}: {error['msg']}" if field else error["msg"]
        bad.setdefault(tuple(path), []).append(problem)
    return bad


def _raw_id(record: Any) -> str | None:
    if isinstance(record, dict) and isinstance(record.get("id"), str | int):
        value = str(record["id"])
        return value if value else None
    return None


def _describe(data: dict[str, Any], path: tuple[Any, ...]) -> str:
    record = data[path[0]][path[1]]
    label = _RECORD_LISTS[path[0]]
    own = f"{label} {_raw_id(record)}" if _raw_id(record) else f"{label} #{path[1] + 1}"
    if len(path) == 2:
        return own
    person = record["persons"][path[3]]
    person_id = _raw_id(person)
    person_label = f"person {person_id}" if person_id else f"person #{path[3] + 1}"
    return f"{person_label} of {own}"


def _quarantine(data: dict[str, Any], path: tuple[Any, ...], quarantine: Quarantine) -> None:
    record = data[path[0]][path[1]]
    if path[0] == "customers" and len(path) == 4:
        person_id = _raw_id(record["persons"][path[3]])
        if person_id:
            quarantine.keys.add(EntryKey.of(Kind.EXTERNAL, person_id))
        else:
            quarantine.kinds.add(Kind.EXTERNAL.value)
        return
    record_id = _raw_id(record)
    if path[0] == "internal_users":
        if record_id:
            quarantine.keys.add(EntryKey.of(Kind.INTERNAL, record_id))
        else:
            quarantine.kinds.update((Kind.INTERNAL.value, Kind.ROLE.value))
    elif path[0] == "orders":
        if record_id:
            quarantine.keys.add(EntryKey.of(Kind.ORDER, record_id))
        else:
            quarantine.kinds.add(Kind.ORDER.value)
    elif record_id:
        quarantine.keys.add(EntryKey.of(Kind.CUSTOMER, record_id))
        quarantine.broken_customers.add(record_id)
        persons = record.get("persons") if isinstance(record, dict) else None
        if persons is not None and not isinstance(persons, list):
            quarantine.kinds.add(Kind.EXTERNAL.value)
        for person in persons if isinstance(persons, list) else []:
            person_id = _raw_id(person)
            if person_id:
                quarantine.keys.add(EntryKey.of(Kind.EXTERNAL, person_id))
            else:
                quarantine.kinds.add(Kind.EXTERNAL.value)
    else:
        quarantine.kinds.update((Kind.CUSTOMER.value, Kind.EXTERNAL.value, Kind.ORDER.value))


def _cut(data: dict[str, Any], bad: dict[tuple[Any, ...], list[str]]) -> None:
    """Remove the bad records, innermost and last first so indexes stay valid."""
    for path in sorted(bad, key=lambda p: (len(p), p[1], p[3] if len(p) == 4 else 0), reverse=True):
        if len(path) == 4:
            customer = data[path[0]][path[1]]
            if isinstance(customer, dict) and isinstance(customer.get("persons"), list):
                del customer["persons"][path[3]]
        else:
            del data[path[0]][path[1]]
