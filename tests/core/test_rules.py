"""Each business rule: a violation names the record and the rule, the rest carries on."""

from __future__ import annotations

from core_helpers import built


def check(document):
    result = built(document)
    errors = [e for e in result.errors if e not in result.desired.errors]
    return result, errors, result.quarantine


def logins(result):
    return result.logins


def test_seed_scenario_breaks_no_rule(seed):
    _, errors, _ = check(seed)
    assert errors == []


def test_builtin_contact_type_is_implied_when_missing(seed):
    seed["customers"][2]["contact_types"] = []
    structure, errors, _ = check(seed)
    assert errors == []
    assert "pbraun" in logins(structure)


def test_builtin_contact_type_holds_at_most_one_person(seed):
    seed["customers"][0]["persons"][1]["contact_types"].append("customer")
    structure, errors, quarantine = check(seed)
    assert {e.record for e in errors} == {
        "person P-1 of customer 10001",
        "person P-2 of customer 10001",
    }
    assert all("at most one" in e.problem for e in errors)
    assert {"cdubois", "mlefevre"}.isdisjoint(logins(structure))
    assert "smartin" in logins(structure)
    assert {"external:P-1", "external:P-2"} <= quarantine.keys


def test_person_needs_at_least_one_contact_type(seed):
    seed["customers"][0]["persons"][2]["contact_types"] = []
    structure, errors, _ = check(seed)
    assert [e.record for e in errors] == ["person P-3 of customer 10001"]
    assert "smartin" not in logins(structure)


def test_unknown_contact_type_is_an_error(seed):
    seed["customers"][1]["persons"][1]["contact_types"] = ["ct-achats"]
    _structure, errors, _ = check(seed)
    [error] = errors
    assert error.record == "person P-11 of customer 10002"
    assert "ct-achats" in error.problem and "do not exist" in error.problem


def test_person_in_several_contact_types_has_one_account(seed):
    structure, _, _ = check(seed)
    assert [
        a.login for k, a in structure.verdicts.accounts().items() if k.startswith("external:")
    ].count("smartin") == 1


def test_duplicate_login_is_reported_for_every_claimant_case_insensitively(seed):
    seed["customers"][2]["persons"][0]["account"]["login"] = "CDubois"
    seed["internal_users"][0]["login"] = "cdubois"
    structure, errors, quarantine = check(seed)
    assert {e.record for e in errors} == {
        "person P-1 of customer 10001",
        "person P-20 of customer 10003",
        "internal user U-1",
    }
    assert {"cdubois", "CDubois"}.isdisjoint(logins(structure))
    assert {"external:P-1", "external:P-20", "internal:U-1"} <= quarantine.keys


def test_only_accounts_that_could_log_in_claim_a_login(seed):
    seed["internal_users"][0]["login"] = "cdubois"
    seed["internal_users"][0]["enabled"] = False
    seed["customers"][3]["persons"][0]["account"]["login"] = "CDUBOIS"
    seed["customers"][1]["persons"][0]["account"] = {"login": "cdubois", "enabled": False}
    structure, errors, quarantine = check(seed)
    assert errors == [] and not quarantine.keys
    assert "external:P-1" in structure.desired.entries


def test_order_of_unknown_customer_is_an_error(seed):
    seed["orders"][0]["customer"] = "99999"
    structure, errors, quarantine = check(seed)
    assert [str(e) for e in errors] == ["order _20261120_001: customer 99999 does not exist"]
    assert "order:_20261120_001" in quarantine.keys
    assert len([k for k in structure.verdicts.by_key if k.startswith("order:")]) == 6


def test_agency_must_exist(seed):
    seed["orders"][0]["agency"] = "77777"
    _, errors, _ = check(seed)
    assert [str(e) for e in errors] == ["order _20261120_001: agency 77777 does not exist"]


def test_agency_must_be_flagged_as_agency(seed):
    seed["orders"][0]["agency"] = "10003"
    _, errors, _ = check(seed)
    assert [str(e) for e in errors] == [
        "order _20261120_001: customer 10003 is not flagged as an agency"
    ]


def test_order_of_invalid_customer_is_held_not_deleted(seed):
    seed["customers"][2]["name"] = ""
    _, errors, quarantine = check(seed)
    assert {e.record for e in errors} == {
        "customer 10003",
        "order _20261121_003",
        "order _20261121_004",
    }
    assert {"order:_20261121_003", "customer:10003", "external:P-20"} <= quarantine.keys


def test_duplicate_customer_ids_hold_both(seed):
    seed["customers"][3]["id"] = "10003"
    _, errors, quarantine = check(seed)
    assert [e.record for e in errors if "share this id" in e.problem] == ["customer 10003"] * 2
    assert "customer:10003" in quarantine.keys


def test_login_with_control_characters_is_refused(seed):
    seed["customers"][0]["persons"][0]["account"]["login"] = "c\x00dubois"
    _structure, errors, _ = check(seed)
    assert [e.record for e in errors] == ["person P-1 of customer 10001"]
    assert "control" in errors[0].problem


def test_login_with_surrounding_spaces_is_refused(seed):
    seed["internal_users"][1]["login"] = " tom.weber"
    _, errors, _ = check(seed)
    assert [e.record for e in errors] == ["internal user U-2"]


def test_the_printable_check_refuses_exactly_unicode_control_and_surrogate_characters():
    """The check is one regular expression; it must match Unicode's categories Cc and Cs."""
    import unicodedata

    from sync.core.model import _UNPRINTABLE

    differ = [
        hex(point)
        for point in range(0x110000)
        if (unicodedata.category(chr(point)) in ("Cc", "Cs"))
        != bool(_UNPRINTABLE.search(chr(point)))
    ]
    assert differ == []
