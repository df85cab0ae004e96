"""The staged `path` query (one to four hops as anchored patterns, then the
breadth-first search) answers every pair with a path of the length the
breadth-first search alone finds, made of stored edges, or nothing when it does."""

from __future__ import annotations

import random
from pathlib import Path

from evokegraph.graph.ladybug_store import LadybugStore
from evokegraph.queries.library import get, run
from evokegraph.records import Element, Evocation, GraphBatch, ImageEntry, ImageRecord

WORDS = [f"c{i}" for i in range(40)]


def test_staged_path_equals_the_breadth_first_search(tmp_path: Path) -> None:
    rng = random.Random(4)
    entries = []
    for i in range(30):  # a sparse network: paths of 1 to 5+ hops, some pairs unconnected
        el = rng.choice(WORDS[:36])
        entries.append(
            ImageEntry(
                image=ImageRecord(id=f"{i:064x}"),
                elements=[Element(name=el, concept=el)],
                evocations=[
                    Evocation(element=el, concept=rng.choice(WORDS[:36]), distance=d, weight=0.5)
                    for d in (1, 3)
                ],
            )
        )
    q = get("path")
    stages = q.stages("ladybug")
    assert len(stages) == 5 and not any(s.endswith(";") for s in stages)
    bfs = stages[-1]
    with LadybugStore(tmp_path / "p.kb", create=True) as kb:
        kb.write(GraphBatch(images=entries))
        kb.recompute_associations()
        edges = {
            frozenset((r["a"], r["b"]))
            for r in kb.query(
                "MATCH (a:Concept)-[:ASSOCIATED_WITH]->(b:Concept) RETURN a.name AS a, b.name AS b"
            )
        }
        hops_seen = set()
        pairs = [(s, t) for s in WORDS for t in WORDS]
        for s, t in rng.sample(pairs, 500):
            got = run(kb, "path", {"source": s, "target": t})
            want = kb.query(bfs, {"source": s, "target": t})
            assert len(got) == len(want) <= 1, (s, t)
            if not got:
                continue
            (p,) = got
            hops = len(p["concepts"]) - 1
            hops_seen.add(hops)
            assert hops == len(want[0]["concepts"]) - 1, (s, t, p, want)
            assert p["concepts"][0] == s and p["concepts"][-1] == t
            assert len(p["distances"]) == len(p["weights"]) == hops
            assert len(set(p["concepts"])) == hops + 1
            for a, b in zip(p["concepts"], p["concepts"][1:], strict=False):
                assert frozenset((a, b)) in edges
    assert {1, 2, 3, 4} <= hops_seen and max(hops_seen) > 4  # every stage answered some pair
