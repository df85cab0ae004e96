"""WordNet's shape of a word: how many senses it has and how general it is.

Two failure modes of near synonyms and slight abstractions, seen in blind
ratings (round 3), that cosines do not see:

* a very polysemous candidate ("set", "take", "code", "credit", "sound") is
  read by people in its common sense, not in the one WordNet linked: "plant ->
  set", "card -> code" were rejected by every rater;
* a candidate far more general than the element ("scientist -> someone",
  "paint -> act", "bedroom -> area") is true but says nothing: a slight
  abstraction is one or two steps up, not the top of the hierarchy.

``polysemy`` (log of the number of senses in a part of speech) and
``depth`` (the shortest hypernym path of the word's most frequent sense) are
computed once per vocabulary word and part of speech; the miner turns them into
the acceptance model's ``poly`` and ``gen`` features. Pure functions over
WordNet (:mod:`evokegraph.lexicons.wordnet`); ``sense_depth`` is cached.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

GEN_CLIP = (-4.0, 8.0)  # steps up the hierarchy from the element's sense to the candidate


@functools.lru_cache(maxsize=400_000)
def word_shape(word: str, pos: str) -> tuple[float, float]:
    """(log1p(number of senses), depth of the first sense; -1 without one)."""
    from evokegraph.lexicons.wordnet import wordnet

    senses = wordnet().synsets(word.replace(" ", "_"), pos)
    if not senses:
        return 0.0, -1.0
    return float(np.log1p(len(senses))), float(sense_depth(senses[0]))


def sense_depth(sense: Any) -> int:
    """Shortest hypernym path to a root (0 for a root; verbs are shallow)."""
    return int(sense.min_depth())


def shapes(words: Sequence[str], pos: str) -> tuple[np.ndarray, np.ndarray]:
    """``word_shape`` over many words, as float32 arrays (polysemy, depth)."""
    out = np.array([word_shape(w, pos) for w in words], dtype=np.float32).reshape(-1, 2)
    return out[:, 0], out[:, 1]


def generality(element_depth: float, depth: np.ndarray) -> np.ndarray:
    """Steps up from the element's chosen sense to each candidate's first sense
    (positive: more general), clipped; 0 where either has no sense."""
    if element_depth < 0:
        return np.zeros_like(depth)
    gen = np.clip(element_depth - depth, *GEN_CLIP)
    return np.where(depth < 0, 0.0, gen).astype(np.float32)
