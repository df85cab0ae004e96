"""`creative_neighbours` against a per-edge Python truth on a random KB (LadybugDB
0.22 dropped rows for one form of this query: a WHERE on one EVOKES edge in the
query part of a second EVOKES edge)."""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

from evokegraph.graph.ladybug_store import LadybugStore
from evokegraph.queries.library import run
from evokegraph.records import Element, Evocation, GraphBatch, ImageEntry, ImageRecord

WORDS = [f"c{i}" for i in range(25)]


def test_creative_neighbours_equal_the_truth(tmp_path: Path) -> None:
    rng = random.Random(11)
    entries = []
    for i in range(60):
        els = rng.sample(WORDS, 3)
        evs = [
            Evocation(element=e, concept=rng.choice(WORDS), distance=d, weight=0.5)
            for e in els
            for d in rng.sample(range(1, 6), 3)
        ]
        evs = [v for v in evs if v.concept != v.element]
        entries.append(
            ImageEntry(
                image=ImageRecord(id=f"{i:064x}"),
                elements=[Element(name=e, concept=e) for e in els],
                evocations=evs,
            )
        )
    by_id = {e.image.id: e for e in entries}
    with_concept = defaultdict(set)  # element concept -> images
    evoking = defaultdict(set)  # (concept, distance) -> images evoking it
    for e in entries:
        for el in e.elements or ():
            with_concept[el.concept].add(e.image.id)
        for v in e.evocations or ():
            evoking[v.concept, v.distance].add(e.image.id)

    def truth(image: str, k: int, limit: int) -> list[tuple[str, int, list[str]]]:
        me = by_id[image]
        literal = set().union(*(with_concept[el.concept] for el in me.elements or ()))
        shared: dict[str, set[str]] = defaultdict(set)
        for v in me.evocations or ():
            if v.distance < k:
                continue
            for d in range(k, 6):
                for other in evoking[v.concept, d] - literal:
                    shared[other].add(v.concept)
        rows = sorted(shared.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:limit]
        return [(o, len(c), sorted(c)) for o, c in rows]

    with LadybugStore(tmp_path / "c.kb", create=True) as kb:
        kb.write(GraphBatch(images=entries))
        kb.recompute_associations()
        cases = 0
        for image in by_id:
            for k, limit in ((4, 20), (3, 5), (5, 20)):
                got = run(
                    kb, "creative_neighbours", {"image": image, "min_distance": k, "limit": limit}
                )
                want = truth(image, k, limit)
                assert [(r["image"], r["shared"], sorted(r["concepts"])) for r in got] == want
                cases += bool(want)
        assert cases > 100
