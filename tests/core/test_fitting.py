"""Values fitted to the limits a mapping states, before anything is written (pure)."""

from __future__ import annotations

import pytest

from sync.core.entry import EntryKey, Kind
from sync.core.mapping import MappingError, parse_mapping
from sync.ldap.flavour import load_mapping

from core_helpers import desired_of

LONG_NAME = "Druckerei Müller GmbH & Co. KG, Niederlassung Nordrhein-Westfalen Süd2"
UPN = {"upn_suffix": "druckerei.example"}


def ad():
    return load_mapping("active-directory", UPN)


def customer_group(desired, customer_id):
    return desired.entries[EntryKey.of(Kind.CUSTOMER, customer_id)]


def test_a_value_that_fits_is_kept_as_it_is():
    from sync.core.fitting import shorten

    assert shorten("X10001-Éditions Lumière", 64) == "X10001-Éditions Lumière"
    assert shorten("a" * 64, 64) == "a" * 64


def test_a_long_value_is_shortened_the_same_way_every_time_and_never_onto_another():
    from sync.core.fitting import shorten

    first = shorten("X10001-" + LONG_NAME, 64)
    assert len(first) == 64 and first.startswith("X10001-Druckerei Müller")
    assert first == shorten("X10001-" + LONG_NAME, 64)
    other = shorten("X10001-" + LONG_NAME[:-1] + "3", 64)
    assert other != first and other[:-8] == first[:-8]


def test_lengths_count_as_ad_counts_them_and_a_tiny_limit_still_gives_a_stable_value():
    from sync.core.fitting import shorten, units

    assert units("😀a") == 3
    fitted = shorten("😀" * 40, 64)
    assert units(fitted) <= 64 and fitted.startswith("😀")
    assert (
        shorten("abcdefghijkl", 4) == shorten("abcdefghijkl", 4)
        and len(shorten("abcdefgh", 4)) == 4
    )


def test_refused_characters_are_named_once_each_and_a_final_dot():
    from sync.core.fitting import refused_in

    assert refused_in("a=b=c[", '"[]=', ".") == ["=", "["]
    assert refused_in("dubois.", '"[]=', ".") == ["."]
    assert refused_in("d.ubois", '"[]=', ".") == []


def test_a_70_character_customer_name_keeps_its_group_and_every_account_on_ad(seed):
    seed["customers"][0]["name"] = LONG_NAME
    desired, _ = desired_of(seed, mapping=ad())
    assert desired.errors == []
    group = customer_group(desired, "10001")
    [cn] = group.attributes["cn"]
    assert len(cn) <= 64 and cn.startswith("X10001-Druckerei")
    assert group.dn.startswith("cn=X10001-Druckerei")
    assert group.attributes["description"] == (f"Customer 10001: {LONG_NAME}",)
    assert len(group.attributes["member"]) == 3
    for person in ("P-1", "P-2", "P-3"):
        [company] = desired.entries[EntryKey.of(Kind.EXTERNAL, person)].attributes["company"]
        assert len(company) <= 64 and company.startswith("Druckerei Müller")


def test_other_flavours_keep_the_whole_name(seed):
    seed["customers"][0]["name"] = LONG_NAME
    for flavour in ("openldap", "389ds"):
        desired, _ = desired_of(seed, mapping=load_mapping(flavour))
        assert customer_group(desired, "10001").attributes["o"] == (LONG_NAME,)


@pytest.mark.parametrize(
    ("login", "words"),
    [
        ("claire.dubois.lumiere", "at most 20"),
        ("a=dubois", "'='"),
        ("bad[chars]", "'[', ']'"),
        ("dubois.", "'.'"),
    ],
)
def test_a_login_ad_cannot_take_is_an_error_of_that_person_only(seed, login, words):
    seed["customers"][0]["persons"][0]["account"]["login"] = login
    desired, quarantine = desired_of(seed, mapping=ad())
    [error] = desired.errors
    assert error.record == "person P-1 of customer 10001"
    assert "sAMAccountName" in error.problem and words in error.problem, error.problem
    assert EntryKey.of(Kind.EXTERNAL, "P-1") in quarantine.keys
    assert EntryKey.of(Kind.EXTERNAL, "P-2") in desired.entries
    assert EntryKey.of(Kind.CUSTOMER, "10001") in desired.entries


def test_a_login_other_flavours_take_is_no_error_there(seed):
    seed["customers"][0]["persons"][0]["account"]["login"] = "a=dubois.lumiere.edition"
    desired, _ = desired_of(seed, mapping=load_mapping("openldap"))
    assert desired.errors == []


def test_ad_order_groups_carry_their_customer_and_agency(seed):
    mapping = ad()
    desired, _ = desired_of(seed, mapping=mapping)
    order = desired.entries[EntryKey.of(Kind.ORDER, "_20261120_001")]
    assert mapping.order_customer == "info" and mapping.order_agency == "admindescription"
    assert order.attributes["info"] == ("10001",)
    assert order.attributes["admindescription"] == ("10002",)
    for flavour in ("openldap", "389ds"):
        assert (load_mapping(flavour).order_customer, load_mapping(flavour).order_agency) == (
            "o",
            "ou",
        )


def test_the_upn_suffix_comes_from_the_settings(seed):
    desired, _ = desired_of(seed, mapping=ad())
    user = desired.entries[EntryKey.of(Kind.EXTERNAL, "P-1")]
    assert user.attributes["userprincipalname"] == ("cdubois@druckerei.example",)


def test_a_mapping_value_left_open_must_be_set():
    with pytest.raises(MappingError, match="upn_suffix"):
        load_mapping("active-directory")
    with pytest.raises(MappingError, match="no value named realm"):
        load_mapping("active-directory", {**UPN, "realm": "x"})


def test_an_integer_spelt_unsigned_is_written_as_ad_answers_it():
    text = load_text().replace('"-2147483646"', '"2147483650"').replace('"512"', '"0512"')
    mapping = parse_mapping(text, "unsigned", UPN)
    customer = mapping.kinds[Kind.CUSTOMER].render({"group_name": "g", "id": "1", "name": "n"})
    assert customer["grouptype"] == ("-2147483646",)
    internal = mapping.kinds[Kind.INTERNAL].render(
        {"login": "x", **dict.fromkeys(("first_name", "last_name", "email", "phone"), "")}
    )
    assert internal["useraccountcontrol"] == ("512",)


def test_an_integer_out_of_range_is_refused_at_load():
    text = load_text().replace('groupType = "-2147483646"', 'groupType = "4294967296"', 1)
    with pytest.raises(MappingError, match=r"groupType.*32-bit"):
        parse_mapping(text, "big", UPN)


def load_text():
    from importlib import resources

    return resources.files("sync.mappings").joinpath("active-directory.toml").read_text("utf-8")


def test_the_upn_suffix_is_set_in_a_settings_file_or_the_environment(tmp_path, monkeypatch):
    from sync.settings import load_settings

    common = {"ldap": {"url": "ldap://127.0.0.1:1", "base_dn": "dc=x"}, "source": {"path": "s"}}
    monkeypatch.setenv("PORTAL_SYNC_MAPPING__VALUES__UPN_SUFFIX", "env.example")
    settings = load_settings(mapping={"path": "active-directory"}, **common)
    assert settings.mapping.values == {"upn_suffix": "env.example"}
    mapping = load_mapping(settings.mapping.path, settings.mapping.values)
    assert mapping.values == {"upn_suffix": "env.example"}
