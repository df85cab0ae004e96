"""Traversal by accumulated abstraction, as a pure function over edges.

Depth of abstraction is the sum of ``distance`` along a path that starts at one
of an image's salient elements. Depths 1..5 read the image's own contextual
``EVOKES`` edges at that distance. Deeper depths continue from an evoked
concept over the shared ``ASSOCIATED_WITH`` network (at most ``max_shared_hops``
hops), adding distances, so that a depth-7 path is, for example,
``EVOKES(5) + ASSOCIATED_WITH(2)``.

Backends fetch the edges (one query for the image, one per shared hop) and call
:func:`paths_at_depth`; nothing here touches a database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from evokegraph.levels import MAX_EVOKES_DISTANCE, check_depth
from evokegraph.records import ContextPath, PathStep, Pos


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    distance: int
    weight: float
    pos: str = "NOUN"


# concept -> outgoing shared edges
SharedLookup = Callable[[Iterable[str], int], Mapping[str, Sequence[Edge]]]


def near_duplicate(a: str, b: str) -> bool:
    """Cheap surface test for "the element itself or a near-duplicate"."""
    if a == b:
        return True
    short, long_ = sorted((a, b), key=len)
    return len(short) >= 4 and long_.startswith(short) and len(long_) - len(short) <= 3


# a path while searching: (weight, depth, element, pos, edges as (kind, Edge))
_Kind = Literal["EVOKES", "ASSOCIATED_WITH"]
_Work = tuple[float, int, str, str, tuple[tuple[_Kind, Edge], ...]]
# stored part-of-speech tags a path keeps; any other is OTHER
_POS: dict[str, Pos] = {"NOUN": "NOUN", "VERB": "VERB", "ADJ": "ADJ", "ADV": "ADV"}


def paths_at_depth(
    image_id: str,
    evokes: Sequence[Edge],
    depth: int,
    shared: SharedLookup | None = None,
    *,
    max_shared_hops: int = 2,
    exclude: Iterable[str] = (),
    beam: int = 32,
) -> list[ContextPath]:
    """All best paths reaching concepts at accumulated ``depth``.

    ``evokes`` are the image's EVOKES edges (source = element concept).
    ``shared(concepts, max_distance)`` returns ASSOCIATED_WITH edges out of
    ``concepts`` with distance <= ``max_distance``. For each (element, concept)
    only the heaviest path is kept; contextual paths win ties. Concepts equal
    or near-equal to the element, or to any concept in ``exclude`` (the
    image's other elements), are skipped. Past depth 5, only the ``beam``
    heaviest unfinished paths are extended at each shared hop. Sorted by
    weight, descending.
    """
    check_depth(depth)
    banned = set(exclude)
    best: dict[tuple[str, str], _Work] = {}

    def offer(w: _Work) -> None:
        concept = w[4][-1][1].target
        element = w[2]
        if concept in banned or near_duplicate(concept, element):
            return
        key = (element, concept)
        old = best.get(key)
        contextual = len(w[4]) == 1
        if old is None or (w[0], contextual) > (old[0], len(old[4]) == 1):
            best[key] = w

    frontier: list[_Work] = []
    for e in evokes:
        w: _Work = (e.weight, e.distance, e.source, e.pos, (("EVOKES", e),))
        if e.distance == depth:
            offer(w)
        elif e.distance < depth and depth > MAX_EVOKES_DISTANCE:
            frontier.append(w)

    for _ in range(max_shared_hops):
        if not frontier or shared is None:
            break
        frontier = sorted(frontier, key=lambda w: (-w[0], w[2], w[4][-1][1].target))[:beam]
        remaining = max(depth - w[1] for w in frontier)
        edges = shared({w[4][-1][1].target for w in frontier}, remaining)
        nxt: list[_Work] = []
        for w in frontier:
            seen = {w[2], *(e.target for _, e in w[4])}
            for e in edges.get(w[4][-1][1].target, ()):
                d = w[1] + e.distance
                if d > depth or e.target in seen:
                    continue
                q: _Work = (w[0] * e.weight, d, w[2], w[3], (*w[4], ("ASSOCIATED_WITH", e)))
                if d == depth:
                    offer(q)
                else:
                    nxt.append(q)
        frontier = nxt

    steps: dict[tuple[_Kind, Edge], PathStep] = {}  # one step per edge, shared by its paths
    out = [_to_path(image_id, w, steps) for w in best.values()]
    return sorted(out, key=lambda p: (-p.weight, p.element, p.concept))


def _to_path(image_id: str, w: _Work, steps: dict[tuple[_Kind, Edge], PathStep]) -> ContextPath:
    # model_construct: every value is of its field's type (numbers made so
    # here, as validation would), and validating ~700 models a context was
    # most of a depth-7 context's time once its edges are in memory
    weight, depth, element, pos, edges = w
    return ContextPath.model_construct(
        image_id=image_id,
        element=element,
        concept=edges[-1][1].target,
        depth=int(depth),
        weight=float(weight),
        steps=[steps.get(ke) or steps.setdefault(ke, _step(*ke)) for ke in edges],
        pos=_POS.get(edges[-1][1].pos, "OTHER"),
    )


def _step(kind: _Kind, e: Edge) -> PathStep:
    return PathStep.model_construct(
        kind=kind,
        source=e.source,
        target=e.target,
        distance=int(e.distance),
        weight=float(e.weight),
    )
