"""The explorer's word search: whole words, any inflection (WordNet lemmas)."""

from __future__ import annotations

import pytest

from evokegraph.queries.web.search import WordQuery, lemmas, lexicon, words

needs_wordnet = pytest.mark.skipif(lexicon() is None, reason="Debian wordnet is not installed")


def test_words_are_whole_and_lower_case() -> None:
    assert words("A Cat's toy, the CATS; scattering-light don't") == [
        "a",
        "cat's",
        "toy",
        "the",
        "cats",
        "scattering",
        "light",
        "don't",
    ]


@needs_wordnet
def test_lemmas_follow_wordnet() -> None:
    assert lemmas("cats") >= {"cat"} and lemmas("mice") >= {"mouse"}
    assert lemmas("running") >= {"run"} and lemmas("ran") >= {"run"}
    assert "cat" not in lemmas("scattering") and "scatter" in lemmas("scattering")
    assert lemmas("xyzzy") == {"xyzzy"}


@needs_wordnet
@pytest.mark.parametrize(
    ("query", "text", "hit"),
    [
        ("cat", "a cat on a mat", True),
        ("cat", "two cats, asleep", True),
        ("cats", "a cat.", True),
        ("cat", "light scattering in the clouds", False),
        ("cat", "a catalogue of concatenated things", False),
        ("mouse", "three mice", True),
        ("run", "a man running", True),
        ("cup of coffee", "coffee in a cup", True),
        ("cup tea", "coffee in a cup", False),
        ("fly", "the flies", True),
    ],
)
def test_match(query: str, text: str, hit: bool) -> None:
    assert WordQuery.parse(query).matches([text]) is hit


@needs_wordnet
def test_substrings_cover_every_matching_text() -> None:
    for query, text in (
        ("cat", "cats"),
        ("mouse", "mice"),
        ("fly", "flies"),
        ("make", "making"),
        ("leaf", "leaves"),
        ("run", "ran"),
    ):
        wq = WordQuery.parse(query)
        assert wq.matches([text]) and any(k in text for k in wq.substrings()), (
            query,
            wq.substrings(),
        )


def test_an_empty_query_is_false() -> None:
    assert not WordQuery.parse("  ,, ") and WordQuery.parse("cup")
