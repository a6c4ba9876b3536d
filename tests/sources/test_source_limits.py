"""Source documents as Windows tools and broken exports write them: read, or refused fast."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from sync.errors import SourceError
from sync.run.prepare import prepare
from sync.settings import Settings, load_settings
from sync.sources.document import read_document


def settings_for_document(tmp_path, document, **overrides) -> Settings:
    path = tmp_path / "source.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    source = {"path": path, **overrides.pop("source", {})}
    return load_settings(source=source, state_dir=tmp_path / "state", **overrides)


def test_a_json_export_with_a_byte_order_mark_is_read(tmp_path, seed):
    path = tmp_path / "export.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(seed).encode("utf-8"))
    loaded = read_document(path)
    assert len(loaded.document.customers) == len(seed["customers"])
    assert not loaded.errors


def test_a_yaml_export_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "export.yaml"
    path.write_bytes(b"\xef\xbb\xbfformat_version: 1\ncustomers: []\n")
    assert read_document(path).document.format_version == 1


@pytest.mark.parametrize("content", [b"", b"  \n\n", b"\xef\xbb\xbf"])
@pytest.mark.parametrize("name", ["export.json", "export.yaml"])
def test_an_empty_file_is_refused_as_empty(tmp_path, content, name):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SourceError, match=re.escape(f"{name}: the file is empty")):
        read_document(path)


def test_a_source_above_the_size_limit_is_refused_and_names_the_setting(
    tmp_path, seed, monkeypatch
):
    monkeypatch.setenv("PORTAL_SYNC_SOURCE__MAX_SIZE", "1KiB")
    settings = settings_for_document(tmp_path, seed)
    assert settings.source.path.stat().st_size > 1024
    with pytest.raises(SourceError) as caught:
        prepare(settings)
    message = str(caught.value)
    assert "more than the limit of 1,024 bytes" in message
    assert "raise PORTAL_SYNC_SOURCE__MAX_SIZE" in message


def test_the_default_size_limit_is_512_mib(tmp_path, seed):
    assert settings_for_document(tmp_path, seed).source.max_size == 512 * 1024**2


def refuse_to_parse(*args, **kwargs):
    raise AssertionError("the parser was asked to read junk")


@pytest.mark.parametrize(
    "junk",
    [
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n" * 20_000,
        "- 1\n- 2\n" * 50_000,
        "just one very long line " * 50_000,
    ],
)
def test_junk_yaml_is_refused_before_it_is_parsed(tmp_path, monkeypatch, junk):
    for name in ("load", "safe_load", "compose", "parse"):
        monkeypatch.setattr(yaml, name, refuse_to_parse)
    path = tmp_path / "export.yaml"
    path.write_text(junk, encoding="utf-8")
    with pytest.raises(
        SourceError, match=r"export\.yaml: not a source document: line 1 starts with"
    ):
        read_document(path)


@pytest.mark.parametrize("junk", ["[" + "1," * 500_000 + "1]", "Lorem ipsum " * 50_000])
def test_junk_json_is_refused_before_it_is_parsed(tmp_path, monkeypatch, junk):
    monkeypatch.setattr(json, "loads", refuse_to_parse)
    path = tmp_path / "export.json"
    path.write_text(junk, encoding="utf-8")
    with pytest.raises(SourceError, match=r"export\.json: not a source document: it starts with"):
        read_document(path)


@pytest.mark.parametrize(
    "text",
    [
        "format_version: 1\n",
        "# exported 2026-11-20\n---\nformat_version: 1\n",
        "%YAML 1.2\n---\nformat_version: 1\n",
        '"format_version": 1\n',
        "{format_version: 1}\n",
        "customers: []\nformat_version: 1\n",
    ],
)
def test_yaml_documents_in_every_usual_shape_still_read(tmp_path, text):
    path = tmp_path / "export.yml"
    path.write_text(text, encoding="utf-8")
    assert read_document(path).document.format_version == 1
