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


@pytest.mark.parametrize("per_tx", [1, 20, 10**6])
def test_ranges_in_several_transactions_and_a_rebuild_killed_half_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, per_tx: int
) -> None:
    """A full rebuild copies its ranges ``AW_TX_ELEMENTS`` elements per transaction,
    checkpointed after each: the same rows as one read. Killed between two of
    them, it leaves ``associations_dirty`` at "1" (the next run rebuilds whole);
    run again, it ends with the same table and the key as it was."""
    rng = random.Random(per_tx)
    with LadybugStore(tmp_path / "kb.kb", create=True) as kb:
        kb.write(batch(rng, 40))
        kb.recompute_associations()  # one read (fewer elements than a range)
        want = aw_rows(kb)
        monkeypatch.setattr(L, "AW_CHUNK_ELEMENTS", 5)
        monkeypatch.setattr(L, "AW_TX_ELEMENTS", per_tx)
        checkpoints: list[int] = []
        checkpoint = kb.checkpoint
        monkeypatch.setattr(kb, "checkpoint", lambda: checkpoints.append(1) or checkpoint())
        assert kb.recompute_associations() == len(want)
        assert aw_rows(kb) == want and kb.get_meta("associations_dirty") is None
        ranges = len(kb._aw_ranges())
        txs = {1: ranges, 20: len(kb._aw_tx_groups()), 10**6: 1}[per_tx]
        assert ranges > 5 and len(checkpoints) == txs and (per_tx != 20 or 1 < txs < ranges)
        if per_tx > 100:
            return
        copy = kb._copy_aw_range
        calls: list[int] = []

        def dies(lo: str, hi: str) -> int | None:
            calls.append(1)
            if len(calls) == 3:
                raise KeyboardInterrupt
            return copy(lo, hi)

        monkeypatch.setattr(kb, "_copy_aw_range", dies)
        with pytest.raises(KeyboardInterrupt):
            kb.recompute_associations()
        assert kb.get_meta("associations_dirty") == "1" and aw_rows(kb) != want
        monkeypatch.setattr(kb, "_copy_aw_range", copy)
        assert kb.recompute_associations() == len(want)
        assert aw_rows(kb) == want and kb.get_meta("associations_dirty") == "1"
