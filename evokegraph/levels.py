"""The ladder of abstraction: distances 1..5, their names, and the depth limit.

Bottom layer: imports only the standard library and :mod:`evokegraph.errors`.
Every stage reads the distance ladder, the level names and the depth limit
from here, so the number 5 (and 15) lives in exactly one place.

*Distance* is the abstraction of one association (1 = near synonym ..
5 = full abstraction). *Depth* is the sum of distances along a path in the
graph: depths 1..5 are one contextual ``EVOKES`` edge, deeper ones continue
over the shared ``ASSOCIATED_WITH`` network, up to :data:`MAX_DEPTH`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from evokegraph.errors import UserInputError

DISTANCES: tuple[int, ...] = (1, 2, 3, 4, 5)
MAX_EVOKES_DISTANCE: int = DISTANCES[-1]
DISTANCE_NAMES: dict[int, str] = {
    1: "near synonym",
    2: "slight abstraction",
    3: "broader context",
    4: "conceptual association",
    5: "full abstraction",
}
# What each distance means, in the words the captioning prompts use.
LEVEL_DEFINITIONS: dict[int, str] = {
    1: "near synonym: a word close in meaning or form to the object",
    2: "slight abstraction: a slightly broader category the object belongs to",
    3: "broader context: linked to the object through its situational or emotional context",
    4: "conceptual association: a more abstract, theme-related idea",
    5: "full abstraction: a highly abstract or metaphorical idea",
}
# An element is *covered* when the miner gave it at least this many words at
# every distance (the near levels have several good words, the far ones one
# confident idea or none: an empty slot beats noise, and coverage counts it).
COVERAGE_MIN_WORDS: dict[int, int] = {1: 2, 2: 2, 3: 2, 4: 1, 5: 1}
MAX_DEPTH: int = 15
DEFAULT_DEPTHS: tuple[int, ...] = DISTANCES


def check_depth(depth: int) -> None:
    """Raise :class:`UserInputError` unless ``1 <= depth <= MAX_DEPTH``."""
    if not 1 <= depth <= MAX_DEPTH:
        raise UserInputError(
            f"depth must be between 1 and {MAX_DEPTH}, got {depth}; pick a depth in 1..{MAX_DEPTH}"
        )


def check_depths(depths: Iterable[int]) -> tuple[int, ...]:
    """Check every depth (see :func:`check_depth`); return them as a tuple."""
    out = tuple(depths)
    for d in out:
        check_depth(d)
    return out


def covered(words_per_distance: Mapping[int, int]) -> bool:
    """True when an element's word counts per distance meet :data:`COVERAGE_MIN_WORDS`."""
    return all(words_per_distance.get(d, 0) >= k for d, k in COVERAGE_MIN_WORDS.items())


def coverage_shares(histogram: Iterable[Mapping[str, int]], elements: int) -> dict[int, float]:
    """Per distance, the share of ``elements`` with at least
    :data:`COVERAGE_MIN_WORDS` words there, from rows ``{distance, words,
    elements}`` (how many elements have that many words at that distance)."""
    out = {d: 0 for d in DISTANCES}
    for row in histogram:
        d = int(row["distance"])
        if d in out and int(row["words"]) >= COVERAGE_MIN_WORDS[d]:
            out[d] += int(row["elements"])
    return {d: round(n / elements, 4) if elements else 0.0 for d, n in out.items()}


def mean_weights(rows: Iterable[Mapping[str, Any]]) -> dict[int, float | None]:
    """Per distance, the mean ``EVOKES.weight`` from rows ``{distance, weight}``
    (None where the distance holds no edge). For the default miner a weight is
    the share of raters who accept such a word, so the mean is the share of a
    distance's words they would accept."""
    out: dict[int, float | None] = {d: None for d in DISTANCES}
    for row in rows:
        d = int(row["distance"])
        if d in out and row["weight"] is not None:
            out[d] = round(float(row["weight"]), 4)
    return out
