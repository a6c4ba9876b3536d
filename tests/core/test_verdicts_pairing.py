"""Each parsed record meets its own model, whatever the bad records around it (pure)."""

from __future__ import annotations

import copy

import pytest

from sync.core.grants import AccessRules
from sync.core.rules import Verdicts
from sync.core.rules.shop import Shop
from sync.sources.document import load_data

from core_helpers import built


def person(pid, login, **fields):
    record = {"id": pid, "last_name": f"L{pid}", "contact_types": ["ct"], **fields}
    record["account"] = {"login": login}
    return record


def shop_with_bad_records():
    return {
        "format_version": 1,
        "internal_users": [
            "not an object",
            {"id": "U-0", "login": "zed"},
            {"id": "U-1", "login": "anna", "last_name": "A"},
        ],
        "customers": [
            {"id": "10", "persons": [person("P-0", "x")]},
            "not an object",
            {
                "id": "11",
                "name": "Second",
                "remote_access": True,
                "contact_types": [{"id": "ct"}],
                "persons": [
                    "not an object",
                    {"id": "P-1", "contact_types": ["ct"], "account": {"login": "bad"}},
                    person("P-2", "bo"),
                    person("P-3", "cy", email="not an address"),
                    person("P-4", "di"),
                ],
            },
            {"id": "12", "name": "Same id as the first", "remote_access": True},
        ],
        "orders": [
            {"id": "O-1", "customer": "11", "portal_visible": True, "name": ["no"]},
            {"id": "O-2", "customer": "11", "portal_visible": True, "name": "Two"},
        ],
    }


def test_records_between_bad_ones_keep_their_own_models():
    result = built(shop_with_bad_records())
    entries = result.desired.entries
    assert entries["external:P-2"].attributes["uid"] == ("bo",)
    assert entries["external:P-4"].attributes["uid"] == ("di",)
    assert entries["internal:U-1"].attributes["uid"] == ("anna",)
    assert "external:P-1" not in entries and "external:P-3" not in entries
    assert "order:O-2" in entries
    assert "order:O-1" not in entries
    assert {"external:P-1", "external:P-3", "internal:U-0", "order:O-1"} <= result.quarantine.keys


def test_records_out_of_step_with_their_models_stop_the_judgement():
    data = shop_with_bad_records()
    loaded = load_data(copy.deepcopy(data))
    with pytest.raises(ValueError, match="out of step"):
        Shop(loaded.document, loaded.raw, set(), AccessRules())
    assert Verdicts.judge(loaded.document, loaded.raw, AccessRules(), invalid=loaded.invalid)
