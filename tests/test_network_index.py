"""The shared network in memory (graph/network_index.py) answers exactly what
the anchored queries answer, ties included, and follows writes."""

from __future__ import annotations

import random
from pathlib import Path

from evokegraph.graph import cypher_text as Q
from evokegraph.graph import kb_cache, network_index
from evokegraph.graph.ladybug_store import LadybugStore
from evokegraph.queries.web.graph import Q_HOP_IN, Q_HOP_OUT, concept_graph
from evokegraph.records import Element, Evocation, GraphBatch, ImageEntry, ImageRecord

WORDS = [f"c{i}" for i in range(12)]


def _batch(start: int, n: int, rng: random.Random) -> GraphBatch:
    entries = []
    for i in range(start, start + n):
        els = rng.sample(WORDS, 3)
        evs = [
            # weights from a few values: many equal weights, so ties are exercised
            Evocation(
                element=e, concept=c, distance=rng.randint(1, 5), weight=rng.choice([0.2, 0.5])
            )
            for e in els
            for c in rng.sample(WORDS, 3)
            if c != e
        ]
        entries.append(
            ImageEntry(
                image=ImageRecord(id=f"{i:064x}", uris=[f"/x/{i}.png"]),
                elements=[Element(name=e, concept=e) for e in els],
                evocations=evs,
            )
        )
    return GraphBatch(images=entries)


def _same_as_queries(kb: LadybugStore, net: network_index.Network) -> None:
    for name in [*WORDS, "absent"]:
        for maxd in (1, 3, 5, 6):
            want = kb._run(Q.Q_SHARED_TOP, {"name": name, "maxd": maxd, "k": 4})
            assert net.shared_rows(name, maxd, 4) == want, (name, maxd)
        for q, outgoing in ((Q_HOP_OUT, True), (Q_HOP_IN, False)):
            assert net.hop_rows(name, outgoing, 3) == kb.query(q, {"n": name, "k": 3}), name


def test_rows_and_order_as_the_queries(tmp_path: Path) -> None:
    kb_cache.clear()
    rng = random.Random(7)
    with LadybugStore(tmp_path / "k.kb", create=True) as kb:
        kb.write(_batch(0, 30, rng))
        kb.recompute_associations()
        net = network_index._load(kb)
        assert len(net.names) == len(WORDS)
        _same_as_queries(kb, net)


def test_loaded_once_it_pays_and_again_after_a_write(tmp_path: Path, monkeypatch) -> None:
    kb_cache.clear()
    rng = random.Random(3)
    with LadybugStore(tmp_path / "k.kb", create=True) as kb:
        kb.write(_batch(0, 30, rng))
        kb.recompute_associations()
        edges = network_index._count(kb)
        monkeypatch.setattr(network_index, "EDGES_PER_QUERY", edges / 10)  # pays after 10 reads
        assert network_index.network(kb, 6) is None
        by_query = {d: kb.context(f"{i:064x}", d) for i in range(5) for d in (6, 7)}
        graph_by_query = concept_graph(kb, WORDS[0], 2)
        assert network_index.network(kb, 6) is not None  # past 10 concepts read
        assert {d: kb.context(f"{i:064x}", d) for i in range(5) for d in (6, 7)} == by_query
        g = concept_graph(kb, WORDS[0], 2)
        assert list(g.nodes(data=True)) == list(graph_by_query.nodes(data=True))
        assert list(g.edges(data=True)) == list(graph_by_query.edges(data=True))
        kb.write(_batch(30, 10, rng))  # a write: the next reads go by query until it pays again
        kb.recompute_associations()
        assert network_index.network(kb, 1) is None
        net = network_index.network(kb, 20)
        assert net is not None
        _same_as_queries(kb, net)
