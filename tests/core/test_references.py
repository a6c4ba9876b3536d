"""One rule for the case of ids: references match ids whatever their case (pure)."""

from __future__ import annotations

import pytest

from core_helpers import built as build
from core_helpers import uid_of


def built(document):
    result = build(document)
    return result.desired, result.errors


def members(desired, key):
    return {uid_of(dn) for dn in desired.entries[key].attributes["member"]}


@pytest.mark.parametrize("spelling", ["CT-ACHATS", "Ct-Achats"])
def test_a_contact_type_reference_matches_its_id_whatever_the_case(seed, spelling):
    seed["customers"][0]["persons"][1]["contact_types"] = [spelling]
    desired, errors = built(seed)
    assert errors == []
    assert "external:P-2" in desired.entries
    assert "mlefevre" in members(desired, "customer:10001")


def test_the_built_in_contact_type_is_one_type_whatever_the_case(seed):
    persons = seed["customers"][0]["persons"]
    persons[1]["contact_types"] = ["Customer"]
    _, errors = built(seed)
    records = {error.record for error in errors}
    assert records == {"person P-1 of customer 10001", "person P-2 of customer 10001"}
    assert all("holds at most one" in error.problem for error in errors)


def test_an_order_reference_matches_the_customer_and_agency_ids_whatever_the_case(seed):
    seed["customers"][1]["id"] = "AG-1"
    seed["orders"][0]["agency"] = "ag-1"
    seed["orders"][1]["customer"] = "Ag-1"
    seed["orders"][2]["agency"] = "AG-1"
    desired, errors = built(seed)
    assert errors == []
    assert members(desired, "order:_20261120_001") == {
        "cdubois",
        "mlefevre",
        "smartin",
        "jsilva",
        "acosta",
    }
    assert members(desired, "order:_20261120_002") == {"jsilva", "acosta"}
    assert members(desired, "order:_20261121_003") == {"pbraun", "jsilva", "acosta"}
