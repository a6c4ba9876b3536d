"""Why a valid record has no entry: decisions of the rules, not errors (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from sync.core.decisions import Why
from sync.core.report import Report

from core_helpers import built as build

AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def built(document):
    result = build(document)
    return result, result.desired, result.quarantine, result.errors


def left_out(document):
    return {(d.record, d.why) for d in build(document).decisions}


def test_the_seed_scenario_says_where_every_missing_record_went(seed):
    assert left_out(seed) == {
        ("customer 10004 (Boulangerie Bernard)", Why.NO_REMOTE_ACCESS),
        ("person P-30 (Luc Bernard) of customer 10004", Why.NO_REMOTE_ACCESS),
        ("person P-4 (Jean Petit) of customer 10001", Why.NO_ACCOUNT),
        ("order _20261121_004", Why.NOT_VISIBLE),
        ("order _20261122_005", Why.NO_MEMBER),
    }


def test_disabled_accounts_and_staff_are_decisions(seed):
    seed["customers"][0]["persons"][0]["account"]["enabled"] = False
    seed["internal_users"][1]["enabled"] = False
    found = left_out(seed)
    assert ("person P-1 (Claire Dubois) of customer 10001", Why.ACCOUNT_DISABLED) in found
    assert ("internal user U-2 (tom.weber)", Why.ACCOUNT_DISABLED) in found


def test_a_customer_whose_only_account_is_disabled_gets_no_group_and_says_so(seed):
    seed["customers"][2]["persons"][0]["account"]["enabled"] = False
    found = left_out(seed)
    assert ("customer 10003 (Weingut Sonnenhang GmbH)", Why.NO_MEMBER) in found


def test_records_in_error_are_errors_not_decisions(seed):
    del seed["customers"][0]["persons"][3]["last_name"]
    structure, _desired, _quarantine, errors = built(seed)
    assert any("P-4" in error.record for error in errors)
    assert not any("P-4" in d.record for d in structure.decisions)


def test_the_report_counts_decisions_and_lists_them_only_when_asked(seed):
    structure, _desired, _quarantine, _ = built(seed)
    report = Report(AT, decisions=structure.decisions).finish(AT)
    text = report.to_text()
    assert "records left out by the rules, not errors:" in text
    assert "person without a portal account: 1" in text and "Jean Petit" not in text
    explained = report.to_text(explain=True)
    assert "person P-4 (Jean Petit) of customer 10001: no user: no portal account" in explained
    data = report.to_dict()
    assert data["left_out"]["customer without remote access"] == 2
    assert {
        "record": "order _20261121_004",
        "reason": "order not visible on the portal",
        "detail": "no group: not visible on the portal, nobody outside the shop may open it",
    } in data["decisions"]
