"""ASSOCIATED_WITH rebuilt by ranges of source concepts (bounded memory) is the
table one read of every EVOKES row gives: the same edges, values and order."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from evokegraph.graph import ladybug_store as L
from evokegraph.graph import write_plan
from evokegraph.graph.ladybug_store import LadybugStore
from evokegraph.records import Element, Evocation, GraphBatch, ImageEntry, ImageRecord

# names whose byte order differs from other orders: case, accents, a space, CJK
WORDS = ["dog", "Dog", "dög", "zebra", "a b", "ab", "éclair", "Z", "犬", "tree", "sky", "x"]


def batch(rng: random.Random, n: int) -> GraphBatch:
    entries = []
    for i in range(n):
        els = rng.sample(WORDS, rng.randrange(1, 5))
        entries.append(
            ImageEntry(
                image=ImageRecord(id=f"{i:064x}", uris=[f"{i}.jpg"]),
                elements=[Element(name=w, concept=w, rank=r) for r, w in enumerate(els)],
                evocations=[
                    Evocation(
                        element=w,
                        concept=rng.choice(WORDS),
                        distance=d,
                        weight=rng.choice([0.5, 0.25, rng.random()]),
                    )
                    for w in els
                    for d in rng.sample(range(1, 6), 2)
                ],
            )
        )
    return GraphBatch(images=entries)


def aw_rows(kb: LadybugStore) -> list[list[object]]:
    # in the engine's own order (no ORDER BY): the order of the copy
    return kb._run(
        "MATCH (a:Concept)-[r:ASSOCIATED_WITH]->(b:Concept) "
        "RETURN a.name, b.name, r.distance, r.weight, r.support"
    )


@pytest.mark.parametrize("chunk", [1, 3, 7])
def test_rebuild_by_ranges_equals_one_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    rng = random.Random(chunk)
    with LadybugStore(tmp_path / "kb.kb", create=True) as kb:
        kb.write(batch(rng, 40))
        kb.recompute_associations()  # one read (fewer elements than a range)
        want = aw_rows(kb)
        whole = write_plan.aggregate_table(kb._arrow_rows(L.Q_EVOKES_ROWS_ALL))
        reads: list[str] = []
        arrow_rows = kb._arrow_rows
        monkeypatch.setattr(L, "AW_CHUNK_ELEMENTS", chunk)
        monkeypatch.setattr(
            kb, "_arrow_rows", lambda c, p=None: reads.append(c) or arrow_rows(c, p)
        )
        assert kb.recompute_associations() == whole.num_rows
        assert reads.count(L.Q_EVOKES_ROWS_RANGE) > 1 and L.Q_EVOKES_ROWS_ALL not in reads
        assert aw_rows(kb) == want and len(want) == whole.num_rows


@pytest.mark.parametrize(
    "engine_order",
    [
        ("AND e.concept <= $hi", ""),  # rows outside the range asked for
        (">= $lo", "> $lo"),  # rows missing from every range
    ],
)
def test_ranges_the_engine_orders_otherwise_fall_back_to_one_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine_order: tuple[str, str]
) -> None:
    rng = random.Random(5)
    with LadybugStore(tmp_path / "kb.kb", create=True) as kb:
        kb.write(batch(rng, 30))
        kb.recompute_associations()
        want = aw_rows(kb)
        reads: list[str] = []
        arrow_rows = kb._arrow_rows
        monkeypatch.setattr(L, "AW_CHUNK_ELEMENTS", 12)
        monkeypatch.setattr(
            kb, "_arrow_rows", lambda c, p=None: reads.append(c) or arrow_rows(c, p)
        )
        monkeypatch.setattr(L, "Q_EVOKES_ROWS_RANGE", L.Q_EVOKES_ROWS_RANGE.replace(*engine_order))
        kb.recompute_associations()
        assert reads[-1] == L.Q_EVOKES_ROWS_ALL and reads.count(L.Q_EVOKES_ROWS_RANGE) >= 1
        assert aw_rows(kb) == want
