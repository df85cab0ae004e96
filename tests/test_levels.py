"""The distance ladder and the depth limit live in evokegraph.levels only."""

from __future__ import annotations

import pytest

from evokegraph.errors import UserInputError
from evokegraph.graph.traversal import paths_at_depth
from evokegraph.levels import (
    DISTANCE_NAMES,
    DISTANCES,
    LEVEL_DEFINITIONS,
    MAX_DEPTH,
    MAX_EVOKES_DISTANCE,
    check_depth,
    check_depths,
)


def test_ladder_is_consistent() -> None:
    assert tuple(range(1, MAX_EVOKES_DISTANCE + 1)) == DISTANCES
    assert sorted(DISTANCE_NAMES) == list(DISTANCES) == sorted(LEVEL_DEFINITIONS)
    assert all(LEVEL_DEFINITIONS[d].startswith(DISTANCE_NAMES[d] + ":") for d in DISTANCES)


@pytest.mark.parametrize("bad", [0, -1, MAX_DEPTH + 1])
def test_check_depth_is_a_user_error(bad: int) -> None:
    with pytest.raises(UserInputError, match=f"depth must be between 1 and {MAX_DEPTH}, got {bad}"):
        check_depth(bad)
    with pytest.raises(UserInputError):
        check_depths([1, bad])
    with pytest.raises(UserInputError):  # the pure traversal uses the same check
        paths_at_depth("img", [], bad)


def test_check_depths_accepts_the_range() -> None:
    assert check_depths(iter([1, MAX_DEPTH])) == (1, MAX_DEPTH)


def test_lexical_miner_option_error_is_a_user_error() -> None:
    from evokegraph.ingest.lexical import LexicalMiner

    with pytest.raises(UserInputError, match="per_distance must be >= 1, got 0"):
        LexicalMiner(per_distance=0)


def test_bad_cypher_param_line_is_a_user_error() -> None:
    from evokegraph.queries.library import parse

    with pytest.raises(UserInputError, match=r"q\.cypher: bad param line .*; write // param:"):
        parse("q.cypher", "// param: ?bad\nMATCH (n) RETURN n")


def test_coverage_counts_elements_with_words_at_every_distance() -> None:
    from evokegraph.levels import COVERAGE_MIN_WORDS, coverage_shares, covered

    assert covered({1: 2, 2: 3, 3: 2, 4: 1, 5: 1})
    assert not covered({1: 3, 2: 3, 3: 3, 4: 0, 5: 2})  # an empty slot is not covered
    rows = [
        {"distance": 1, "words": 3, "elements": 4},
        {"distance": 1, "words": 1, "elements": 1},
        {"distance": 4, "words": 1, "elements": 2},
    ]
    shares = coverage_shares(rows, 5)
    assert shares[1] == 0.8 and shares[4] == 0.4 and shares[5] == 0.0
    assert sorted(shares) == sorted(COVERAGE_MIN_WORDS)
    assert coverage_shares([], 0) == {d: 0.0 for d in COVERAGE_MIN_WORDS}
