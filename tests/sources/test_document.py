"""Reading the source document: syntax stops the run, a bad record does not."""

from __future__ import annotations

import json

import pytest

from sync.errors import SourceError
from sync.sources.document import load_data, parse_text, read_document


def test_invalid_json_names_file_line_and_column(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{\n  "format_version": 1,\n  "customers": [,]\n}')
    with pytest.raises(SourceError, match=r"bad\.json: not valid JSON at line 3, column 17"):
        read_document(path)


def test_invalid_yaml_names_line_and_column():
    with pytest.raises(SourceError, match=r"s\.yaml: not valid YAML at line 3, column 1"):
        parse_text("format_version: 1\ncustomers: [a, b\n", "s.yaml")


def test_yaml_document_reads_like_json(tmp_path, seed):
    import yaml

    path = tmp_path / "seed.yaml"
    path.write_text(yaml.safe_dump(seed, allow_unicode=True), encoding="utf-8")
    loaded = read_document(path)
    assert loaded.errors == []
    assert [c.id for c in loaded.document.customers] == ["10001", "10002", "10003", "10004"]


@pytest.mark.parametrize("version", [None, 2, "1", 0])
def test_unknown_format_version_stops_the_run(version):
    with pytest.raises(SourceError, match="unknown format_version"):
        load_data({"format_version": version, "customers": []})


def test_document_that_is_not_an_object_stops_the_run():
    with pytest.raises(SourceError, match="must be an object"):
        load_data([1, 2])


def test_missing_file_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="cannot read"):
        read_document(tmp_path / "nope.json")


def test_bad_person_is_cut_out_and_named_the_rest_reads(seed):
    del seed["customers"][0]["persons"][1]["last_name"]
    loaded = load_data(seed)
    [error] = loaded.errors
    assert error.record == "person P-2 of customer 10001"
    assert "last_name" in error.problem
    persons = [p.id for p in loaded.document.customers[0].persons]
    assert persons == ["P-1", "P-3", "P-4"]
    assert "external:P-2" in loaded.quarantine.keys


def test_bad_customer_quarantines_its_persons(seed):
    seed["customers"][1]["remote_access"] = "sometimes"
    loaded = load_data(seed)
    [error] = loaded.errors
    assert error.record == "customer 10002"
    assert {"customer:10002", "external:P-10", "external:P-11"} <= loaded.quarantine.keys
    assert "10002" in loaded.quarantine.broken_customers


def test_record_without_id_suspends_deletions_of_its_kind(seed):
    del seed["orders"][2]["id"]
    loaded = load_data(seed)
    assert loaded.errors[0].record == "order #3"
    assert "order" in loaded.quarantine.kinds
    assert loaded.quarantine.blocks_deletion("order:anything")


def test_numeric_ids_read_as_text(seed):
    seed["customers"][0]["id"] = 10001
    loaded = load_data(json.loads(json.dumps(seed)))
    assert loaded.document.customers[0].id == "10001"


def test_unknown_fields_are_ignored(seed):
    seed["customers"][0]["quota_mb"] = 500
    assert load_data(seed).errors == []


def test_record_errors_print_control_characters_escaped_and_long_values_cut():
    from sync.core.problems import RecordError

    text = str(RecordError("order a\x00b\nc", "y" * 5000))
    assert "\x00" not in text and "\n" not in text and "a\\x00b\\nc" in text
    assert len(text) < 600 and text.endswith("…")  # a problem may name two DNs: 480 at most


def test_a_file_with_bad_records_reads_like_its_parsed_data(tmp_path, seed):
    """read_document validates record by record, then falls back to load_data's messages."""
    seed["customers"][0]["persons"][0].pop("last_name")
    seed["orders"][0]["portal_visible"] = "maybe"
    path = tmp_path / "source.json"
    path.write_text(json.dumps(seed), encoding="utf-8")
    from_file = read_document(path)
    from_data = load_data(json.loads(json.dumps(seed)))
    assert from_file.errors == from_data.errors and len(from_file.errors) == 2
    assert from_file.document == from_data.document
    assert from_file.quarantine == from_data.quarantine
    assert from_file.raw == from_data.raw


def test_a_valid_file_reads_like_its_parsed_data(tmp_path, seed):
    path = tmp_path / "source.json"
    path.write_text(json.dumps(seed), encoding="utf-8")
    assert read_document(path).document == load_data(json.loads(json.dumps(seed))).document
