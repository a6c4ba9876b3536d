"""The console's search index, without a server: prefix search by words, cut short when huge."""

from __future__ import annotations

from sync.service.console.snapshot import SEARCHED, Hit, Index


def index_of(terms: list[tuple[str, Hit, str]]) -> Index:
    index = Index()
    index.terms = sorted(terms, key=lambda term: term[0])
    return index


def test_every_word_must_start_a_term_of_the_same_record() -> None:
    index = index_of(
        [
            ("müller", Hit.CUSTOMER, "1"),
            ("druck", Hit.CUSTOMER, "1"),
            ("müller", Hit.CUSTOMER, "2"),
            ("papier", Hit.CUSTOMER, "2"),
            ("2026/0815", Hit.ORDER, "2026/0815"),
            ("0815", Hit.ORDER, "2026/0815"),
        ]
    )
    assert index.search("Müll dru") == ({Hit.ORDER: [], Hit.CUSTOMER: ["1"], Hit.USER: []}, False)
    assert index.search("mül")[0][Hit.CUSTOMER] == ["1", "2"]
    assert index.search("081")[0][Hit.ORDER] == ["2026/0815"]
    assert index.search("  ") == ({hit: [] for hit in Hit}, False)
    assert index.search("zzz")[0][Hit.CUSTOMER] == []


def test_a_search_matching_more_terms_than_it_looks_at_is_cut_short() -> None:
    index = index_of([(f"a{n:06d}", Hit.ORDER, f"a{n:06d}") for n in range(SEARCHED + 10)])
    found, cut = index.search("a")
    assert cut and len(found[Hit.ORDER]) == SEARCHED
    found, cut = index.search("a00001")
    assert not cut and len(found[Hit.ORDER]) == 10
