"""graph/traversal.py, pure: paths by accumulated distance over EVOKES then ASSOCIATED_WITH."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import pytest

from evokegraph.errors import UserInputError
from evokegraph.graph.traversal import Edge, near_duplicate, paths_at_depth

IMG = "i" * 64
EVOKES = [
    Edge("dog", "bone", 1, 0.9),
    Edge("dog", "loyalty", 5, 0.6, "NOUN"),
    Edge("dog", "dog", 1, 0.99),  # the element itself: never a path
    Edge("ball", "game", 2, 0.8, "VERB"),
    Edge("ball", "dog", 2, 0.7),  # the image's other element: excluded when asked
]
SHARED = {
    "loyalty": [Edge("loyalty", "trust", 2, 0.5), Edge("loyalty", "honor", 1, 0.4)],
    "game": [Edge("game", "play", 5, 0.9)],
    "honor": [Edge("honor", "duty", 1, 0.8)],
}


def shared(concepts: Iterable[str], max_distance: int) -> Mapping[str, Sequence[Edge]]:
    return {c: [e for e in SHARED.get(c, ()) if e.distance <= max_distance] for c in concepts}


def test_the_mined_depths_read_the_images_own_edges() -> None:
    got = paths_at_depth(IMG, EVOKES, 1, shared)
    assert [(p.element, p.concept, p.weight) for p in got] == [("dog", "bone", 0.9)]
    two = paths_at_depth(IMG, EVOKES, 2, shared, exclude=["dog"])
    assert [(p.concept, p.pos, [s.kind for s in p.steps]) for p in two] == [
        ("game", "VERB", ["EVOKES"])
    ]


def test_deeper_depths_continue_over_the_shared_network_adding_distances() -> None:
    seven = paths_at_depth(IMG, EVOKES, 7, shared)
    assert [(p.element, p.concept, p.depth) for p in seven] == [
        ("ball", "play", 7),  # 0.8 * 0.9
        ("dog", "trust", 7),  # 0.6 * 0.5 beats loyalty -> honor -> duty (0.6 * 0.4 * 0.8)
        ("dog", "duty", 7),
    ]
    trust = seven[1]
    assert trust.weight == pytest.approx(0.3)
    assert [(s.kind, s.source, s.target, s.distance) for s in trust.steps] == [
        ("EVOKES", "dog", "loyalty", 5),
        ("ASSOCIATED_WITH", "loyalty", "trust", 2),
    ]
    assert paths_at_depth(IMG, EVOKES, 7, shared, max_shared_hops=1)[-1].concept == "trust"
    assert paths_at_depth(IMG, EVOKES, 7, None) == []  # no shared network: nothing past 5


def test_the_beam_keeps_the_heaviest_unfinished_paths() -> None:
    evokes = [Edge("dog", "loyalty", 5, 0.6), Edge("ball", "game", 2, 0.8)]
    got = paths_at_depth(IMG, evokes, 7, shared, beam=1)
    assert [p.concept for p in got] == ["play"]  # ball -> game (0.8) beat dog -> loyalty (0.6)
    assert len(paths_at_depth(IMG, evokes, 7, shared, beam=2)) == 3


def test_depth_is_checked_and_near_duplicates_are_surface_tests() -> None:
    with pytest.raises(UserInputError):
        paths_at_depth(IMG, EVOKES, 0, shared)
    assert near_duplicate("tree", "trees") and near_duplicate("run", "run")
    assert not near_duplicate("cat", "cats")  # too short to tell
    assert not near_duplicate("tree", "treehouse")
