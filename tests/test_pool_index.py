"""The concept page's creative pairs from the in-memory element index equal
those read by query (H24: ``queries/web/pool_index.py``), the index is loaded
only once it pays, and a write drops it. Checked to fail: with the index's
elements of one image off by one node (``image_offset + 1``), with the pool's
images not filtered by distance, and with the index kept after a write."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from evokegraph.graph.ladybug_store import LadybugStore
from evokegraph.queries.web import data, pool_index
from evokegraph.records import Element, Evocation, GraphBatch, ImageEntry, ImageRecord

WORDS = [f"w{k}" for k in range(14)]  # elements: few words, so many pairs share one
EVOKED = ["shade", "calm", "time"]


def _image(rng: random.Random, i: int) -> ImageEntry:
    els = rng.sample(WORDS, rng.choice([1, 2, 3, 5]))
    evs = [
        Evocation(element=e, concept=c, distance=rng.randint(1, 5), weight=rng.random())
        for e in els
        for c in rng.sample(EVOKED, rng.randint(0, 2))
    ]
    return ImageEntry(
        image=ImageRecord(id=f"{rng.randrange(16**8):08x}{i:056x}", uris=[f"img/{i}.jpg"]),
        elements=[Element(name=e, concept=e, rank=k) for k, e in enumerate(els)],
        evocations=evs,
        stage_keys={"elements": "t", "associations": "t"},
    )


def _batch(seed: int, n: int) -> GraphBatch:
    rng = random.Random(seed)
    return GraphBatch(images=[_image(rng, seed * 1000 + i) for i in range(n)])


def _pages(kb: Any, names: list[str]) -> list[dict[str, Any]]:
    return [data.concept(kb, n) for n in names]


@pytest.fixture(autouse=True)
def _fresh() -> Any:
    pool_index.forget()
    yield
    pool_index.forget()


def _by_query(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool_index, "usable", lambda store: False)


def test_pairs_from_the_index_equal_the_query(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with LadybugStore(tmp_path / "kb.kb", create=True) as kb:
        kb.write(_batch(1, 260))  # pools of 200+ images: both the 24 and the 200 path
        names = EVOKED + WORDS
        with monkeypatch.context() as m:
            _by_query(m)
            want = _pages(kb, names)
        got = _pages(kb, names)  # the index loads after the first read (a small KB)
        assert pool_index._STATES and next(iter(pool_index._STATES.values())).index is not None
        assert got == want
        assert _pages(kb, names) == want
        assert any(p["creative"] for p in want) and any(
            len(p["creative"]) < data.CREATIVE_PAIRS for p in want
        )


def test_a_write_drops_the_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with LadybugStore(tmp_path / "kb.kb", create=True) as kb:
        kb.write(_batch(2, 40))
        _pages(kb, EVOKED * 2)  # loaded
        kb.write(_batch(3, 60))  # new images between the old ones (ids are random)
        got = _pages(kb, EVOKED + WORDS)
        with monkeypatch.context() as m:
            _by_query(m)
            want = _pages(kb, EVOKED + WORDS)
        assert got == want
        _pages(kb, EVOKED)
        assert next(iter(pool_index._STATES.values())).index is not None
        assert _pages(kb, EVOKED + WORDS) == want


def test_the_index_loads_once_it_pays(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[int] = []
    build = pool_index.build

    def counted(table: Any) -> pool_index.ElementIndex:
        loads.append(table.num_rows)
        return build(table)

    monkeypatch.setattr(pool_index, "build", counted)
    with LadybugStore(tmp_path / "kb.kb", create=True) as kb:
        kb.write(_batch(4, 50))
        elements = kb.query(pool_index.Q_ELEMENT_COUNT)[0]["n"]
        monkeypatch.setattr(pool_index, "ELEMENTS_PER_READ", max(1, elements // 5))
        assert pool_index.reads_to_load(kb) == 5
        for _ in range(5):
            data.concept(kb, "shade")
        assert loads == []  # five pool queries: not yet
        data.concept(kb, "shade")
        assert loads == [elements]
        for _ in range(3):
            data.concept(kb, "calm")
        assert loads == [elements]  # kept for this version


def test_out_of_range_offsets_have_no_elements() -> None:
    import numpy as np

    ix = pool_index.ElementIndex(np.array([0, 2, 2, 3]), np.array([0, 1, 0]), ["a", "b"])
    assert [ix.elements(k) for k in (-1, 0, 1, 2, 3)] == [[], ["a", "b"], [], ["a"], []]
