"""Log lines: text or JSON, and secrets masked even when a message carries them."""

from __future__ import annotations

import json
import logging
import sys

from sync.logs import MASK, JsonFormatter, TextFormatter


def record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("portal_sync", logging.ERROR, __file__, 1, message, args, None)


def test_text_lines_mask_every_secret():
    line = TextFormatter(["s3cret", "tok"]).format(record("bind with %s and %s", "s3cret", "tok"))
    assert "s3cret" not in line and "tok" not in line
    assert line.endswith(f"portal_sync: bind with {MASK} and {MASK}")


def test_json_lines_are_objects_with_masked_messages():
    line = JsonFormatter(["s3cret"]).format(record("refused password %r", "s3cret"))
    data = json.loads(line)
    assert data["level"] == "ERROR" and data["logger"] == "portal_sync"
    assert data["message"] == f"refused password '{MASK}'"


def test_an_exception_text_is_masked_too():
    try:
        raise ValueError("token s3cret rejected")
    except ValueError:
        entry = record("failed")
        entry.exc_info = sys.exc_info()
    data = json.loads(JsonFormatter(["s3cret"]).format(entry))
    assert "s3cret" not in data["exception"] and "ValueError" in data["exception"]
    assert "s3cret" not in TextFormatter(["s3cret"]).format(entry)


def test_an_empty_secret_masks_nothing():
    assert TextFormatter([""]).format(record("plain")).endswith("plain")
