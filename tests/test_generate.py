"""The benchmark's generator: deterministic, valid, and shaped like a print shop's customers."""

from __future__ import annotations

import copy
import json
from statistics import mean

import pytest

from benchmarks.generate import add_one_person, change_one_person, generate, mutate

from core_helpers import built

DN_SPECIALS = ',+"\\<>;=#'


@pytest.fixture(scope="module")
def small() -> dict:
    return generate("S", seed=1)


def record_errors(document: dict) -> list:
    return built(copy.deepcopy(document)).errors


def test_the_same_seed_gives_the_same_document(small):
    assert json.dumps(generate("S", seed=1)) == json.dumps(small)


def test_another_seed_gives_another_document(small):
    assert json.dumps(generate("S", seed=2)) != json.dumps(small)


def test_a_generated_document_passes_validation_without_record_errors(small):
    assert record_errors(small) == []


def test_size_s_has_the_specified_shape(small):
    customers = small["customers"]
    persons = [p for c in customers for p in c["persons"]]
    accounts = [p for p in persons if p.get("account")]
    assert len(customers) == 100
    assert 3 <= len(persons) / len(customers) <= 8
    assert 0.7 <= len(accounts) / len(persons) <= 0.9
    assert 12 <= len(small["orders"]) / len(customers) <= 30
    assert max(len(c["persons"]) for c in customers) >= 5 * mean(
        len(c["persons"]) for c in customers
    )
    assert any(len(set(p["contact_types"])) > 1 for p in persons)
    assert small["internal_users"]


def test_agencies_serve_many_customers(small):
    agencies = {c["id"] for c in small["customers"] if c["agency"]}
    served: dict[str, set[str]] = {}
    for order in small["orders"]:
        if order.get("agency"):
            assert order["agency"] in agencies
            served.setdefault(order["agency"], set()).add(order["customer"])
    assert max(len(customers) for customers in served.values()) >= 5


def test_names_carry_accents_and_dn_special_characters():
    document = generate("S", seed=3)
    names = [c["name"] for c in document["customers"]]
    names += [p["last_name"] for c in document["customers"] for p in c["persons"]]
    text = "".join(names)
    assert any(not char.isascii() for char in text)
    assert len({char for char in DN_SPECIALS if char in text}) >= 3


def test_the_mutator_changes_about_the_fraction_asked_and_stays_valid(small):
    document = copy.deepcopy(small)
    counts = mutate(document, 0.05, seed=7)
    records = sum(len(c["persons"]) for c in small["customers"]) + len(small["orders"])
    assert 0.5 * 0.05 * records <= sum(counts.values()) <= 0.05 * records
    assert all(counts[kind] > 0 for kind in ("new persons", "orders added", "orders closed"))
    assert document != small
    assert record_errors(document) == []


def test_changing_one_person_changes_exactly_one_email(small):
    document = copy.deepcopy(small)
    person_id = change_one_person(document)
    before = {p["id"]: p for c in small["customers"] for p in c["persons"]}
    after = {p["id"]: p for c in document["customers"] for p in c["persons"]}
    changed = [pid for pid in before if before[pid] != after[pid]]
    assert changed == [person_id]
    assert after[person_id]["email"] != before[person_id]["email"]


def test_adding_one_person_adds_a_valid_person_with_an_account(small):
    document = copy.deepcopy(small)
    person_id = add_one_person(document, seed=1)
    persons = {p["id"]: p for c in document["customers"] for p in c["persons"]}
    assert persons[person_id]["account"]["login"]
    assert record_errors(document) == []
