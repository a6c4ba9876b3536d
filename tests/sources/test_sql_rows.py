"""Rows of the SQL queries joined into the document, and the queries file: pure, no database."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sync.core.entry import EntryKey, Kind
from sync.errors import ConfigurationError
from sync.sources.document import load_data
from sync.sources.sql.queries import SHAPES, parse_queries
from sync.sources.sql.rows import join, plain


def tables(**given):
    """Return the rows of every query: none, except those given."""
    return {name: [dict(row) for row in given.get(name, [])] for name in SHAPES}


LUMIERE = {"id": "10001", "name": "Éditions Lumière", "remote_access": True}


def test_nested_lists_are_joined_by_id_without_regard_to_case():
    joined = join(
        tables(
            customers=[LUMIERE],
            contact_types=[{"customer": "10001", "id": "ct-achats", "name": "Achats"}],
            persons=[{"customer": "10001", "id": "P-1", "last_name": "Dubois"}],
            person_contact_types=[{"person": "p-1", "contact_type": "ct-achats"}],
            accounts=[{"person": "P-1", "login": "cdubois"}],
            internal_users=[{"id": "U-1", "login": "anna", "last_name": "Schmidt"}],
            roles=[{"internal_user": "u-1", "role": "Prepress"}],
        )
    )
    assert joined.errors == []
    loaded = load_data(joined.data)
    person = loaded.document.customers[0].persons[0]
    assert person.contact_types == ["ct-achats"]
    assert person.account is not None and person.account.login == "cdubois"
    assert loaded.document.internal_users[0].groups == ["Prepress"]


def test_a_person_of_a_customer_that_does_not_exist_is_a_named_error_and_keeps_its_entry():
    joined = join(
        tables(
            customers=[LUMIERE],
            persons=[{"customer": "99999", "id": "P-9", "last_name": "Nobody"}],
        )
    )
    assert [str(error) for error in joined.errors] == [
        "person P-9: customer: the customer '99999' does not exist; its entry is kept as it is"
    ]
    assert EntryKey.of(Kind.EXTERNAL, "P-9") in joined.quarantine.keys


def test_a_person_with_two_accounts_is_a_named_error_and_is_skipped():
    joined = join(
        tables(
            customers=[LUMIERE],
            persons=[{"customer": "10001", "id": "P-1", "last_name": "Dubois"}],
            person_contact_types=[{"person": "P-1", "contact_type": "customer"}],
            accounts=[{"person": "P-1", "login": "cdubois"}, {"person": "P-1", "login": "claire"}],
        )
    )
    assert any("person P-1" in str(e) and "two account rows" in str(e) for e in joined.errors)
    loaded = load_data(joined.data)
    assert loaded.document.customers[0].persons == []
    assert EntryKey.of(Kind.EXTERNAL, "P-1") in loaded.quarantine.keys


def test_rows_of_parents_that_do_not_exist_are_named():
    joined = join(
        tables(
            contact_types=[{"customer": "7", "id": "ct"}],
            person_contact_types=[{"person": "P-7", "contact_type": "ct"}],
            accounts=[{"person": "P-7", "login": "ghost"}],
            roles=[{"internal_user": "U-7", "role": "Prepress"}],
        )
    )
    assert sorted(str(error) for error in joined.errors) == [
        "account ghost: its person does not exist",
        "contact type ct: its customer does not exist",
        "contact type of person P-7: the person does not exist",
        "role Prepress: its internal user 'U-7' does not exist",
    ]


def test_nulls_are_left_out_and_numeric_ids_read_as_plain_numbers():
    assert plain(["id", "name", "nickname", "agency"], [Decimal(10001), "X", None, 1]) == {
        "id": 10001,
        "name": "X",
        "agency": 1,
    }
    loaded = load_data(join(tables(customers=[{"id": 10001, "name": "X", "agency": 1}])).data)
    assert loaded.document.customers[0].id == "10001"
    assert loaded.document.customers[0].agency is True


def test_a_bad_value_is_a_record_error_of_that_record():
    joined = join(
        tables(
            customers=[LUMIERE, {"id": "10002", "name": "Criativa"}],
            persons=[
                {
                    "customer": "10001",
                    "id": "P-2",
                    "last_name": "Lefèvre",
                    "email": "marc at lumiere",
                }
            ],
            person_contact_types=[{"person": "P-2", "contact_type": "customer"}],
        )
    )
    loaded = load_data(joined.data)
    assert len(loaded.errors) == 1
    assert str(loaded.errors[0]).startswith("person P-2 of customer 10001: email")
    assert [customer.id for customer in loaded.document.customers] == ["10001", "10002"]


def test_the_queries_file_must_name_every_query_and_only_known_ones():
    complete = {name: f"SELECT 1 -- {name}" for name in SHAPES}
    assert parse_queries(complete, "q.toml").selects == complete
    with pytest.raises(ConfigurationError, match=r"missing: roles"):
        parse_queries({k: v for k, v in complete.items() if k != "roles"}, "q.toml")
    with pytest.raises(ConfigurationError, match=r"'person' is no query"):
        parse_queries({**complete, "person": "SELECT 1"}, "q.toml")
    with pytest.raises(ConfigurationError, match=r"orders: must be the text of a SELECT"):
        parse_queries({**complete, "orders": 3}, "q.toml")
