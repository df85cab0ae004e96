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

from evokegraph.records import ContextPath, PathStep

MAX_EVOKES_DISTANCE = 5


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


def paths_at_depth(
    image_id: str,
    evokes: Sequence[Edge],
    depth: int,
    shared: SharedLookup | None = None,
    *,
    max_shared_hops: int = 2,
    exclude: Iterable[str] = (),
) -> list[ContextPath]:
    """All best paths reaching concepts at accumulated ``depth``.

    ``evokes`` are the image's EVOKES edges (source = element concept).
    ``shared(concepts, max_distance)`` returns ASSOCIATED_WITH edges out of
    ``concepts`` with distance <= ``max_distance``. For each (element, concept)
    only the heaviest path is kept; contextual paths win ties. Concepts equal
    or near-equal to the element, or to any concept in ``exclude`` (the
    image's other elements), are skipped. Sorted by weight, descending.
    """
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    banned = set(exclude)
    best: dict[tuple[str, str], ContextPath] = {}

    def offer(p: ContextPath) -> None:
        if p.concept in banned or near_duplicate(p.concept, p.element):
            return
        key = (p.element, p.concept)
        old = best.get(key)
        if old is None or (p.weight, p.contextual) > (old.weight, old.contextual):
            best[key] = p

    frontier: list[ContextPath] = []
    for e in evokes:
        if e.distance != depth and not (e.distance < depth and depth > MAX_EVOKES_DISTANCE):
            continue
        step = PathStep(
            kind="EVOKES", source=e.source, target=e.target, distance=e.distance, weight=e.weight
        )
        p = ContextPath(
            image_id=image_id,
            element=e.source,
            concept=e.target,
            depth=e.distance,
            weight=e.weight,
            steps=[step],
            pos=e.pos if e.pos in ("NOUN", "VERB", "ADJ", "ADV") else "OTHER",
        )
        if e.distance == depth:
            offer(p)
        else:
            frontier.append(p)

    for _ in range(max_shared_hops):
        if not frontier or shared is None:
            break
        remaining = max(depth - p.depth for p in frontier)
        edges = shared({p.concept for p in frontier}, remaining)
        nxt: list[ContextPath] = []
        for p in frontier:
            seen = {p.element, *(s.target for s in p.steps)}
            for e in edges.get(p.concept, ()):
                d = p.depth + e.distance
                if d > depth or e.target in seen:
                    continue
                step = PathStep(
                    kind="ASSOCIATED_WITH",
                    source=e.source,
                    target=e.target,
                    distance=e.distance,
                    weight=e.weight,
                )
                q = p.model_copy(
                    update={
                        "concept": e.target,
                        "depth": d,
                        "weight": p.weight * e.weight,
                        "steps": [*p.steps, step],
                    }
                )
                if d == depth:
                    offer(q)
                else:
                    nxt.append(q)
        frontier = nxt

    return sorted(best.values(), key=lambda p: (-p.weight, p.element, p.concept))
