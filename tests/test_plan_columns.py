"""graph/plan_columns.py: the columnar planner gives the row planner's tables
exactly (rows, order, values), on random batches with the awkward cases mixed
in, and hands the rare batches to the row planner."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from evokegraph.errors import RecordError
from evokegraph.graph import plan_columns as P
from evokegraph.graph import write_plan
from evokegraph.graph.arrow_schema import to_table
from evokegraph.graph.ladybug_store import LadybugStore
from evokegraph.records import (
    Caption,
    Element,
    Evocation,
    Failure,
    GraphBatch,
    ImageEntry,
    ImageRecord,
)

WORDS = ["dog", "Dog ", "ball", "tree", "sky", "sea", "red", "Big  Sea", "run", "x y"]
POS = ["NOUN", "VERB", "ADJ", "ADV", "OTHER"]


def row_tables(batch: GraphBatch) -> dict[str, object]:
    plan = write_plan.plan_write(batch)
    return {s: to_table(getattr(plan, f), P.stem_schema(s)) for s, (_, _, f) in P.TABLES.items()}


def random_entry(i: int, rng: random.Random) -> ImageEntry:
    els = rng.sample(WORDS, rng.randrange(0, 4))
    if len({" ".join(w.split()).casefold() for w in els}) != len(els):
        els = els[:1]  # one key once (a key twice goes to the row planner, tested apart)
    elements = [
        Element(
            name=w.upper(),
            concept=w,
            pos=rng.choice(POS),  # type: ignore[arg-type]
            saliency=rng.random(),
            rank=r,
            box=[0.0, 1, 2.5, 3] if rng.random() < 0.3 else None,
            grounding=rng.random() if rng.random() < 0.3 else None,
        )
        for r, w in enumerate(els)
    ]
    seen: set[tuple[str, str, int]] = set()
    evs = []
    for _ in range(rng.randrange(0, 8)):
        e, c, d = rng.choice(WORDS), rng.choice(WORDS), rng.randrange(1, 6)
        if (" ".join(e.split()).casefold(), c, d) in seen:
            continue
        seen.add((" ".join(e.split()).casefold(), c, d))
        evs.append(
            Evocation(
                element=e,
                concept=c,
                pos=rng.choice(POS),  # type: ignore[arg-type]
                distance=d,
                rank=rng.randrange(3),
                weight=rng.random(),
                surface=rng.choice(["", "Surf", c]),
                grounding=rng.choice([None, 0.25]),
                run=rng.choice(["", "r1"]),
            )
        )
    return ImageEntry(
        image=ImageRecord(
            id=f"{i:064x}",
            uris=rng.choice([[f"{i}.jpg"], [f"{i}.jpg", f"{i}.jpg", "b.png"], []]),
            width=rng.randrange(3),
            format=rng.choice(["", "png"]),
            split=rng.choice(["", "val"]),
            captions=rng.choice([[], ["a dog"], ["a", "b"]]),
            description=rng.choice(["", "a scene"]),
        ),
        elements=rng.choice([elements, elements, None, []]),
        evocations=rng.choice([evs, evs, None, []]),
        stage_keys=rng.choice([{}, {"elements": "k", "associations": "a"}, {"decode": "d"}]),
    )


@pytest.mark.parametrize("seed", range(40))
def test_columns_equal_the_row_planner_on_random_batches(seed: int) -> None:
    rng = random.Random(seed)
    batch = GraphBatch(
        images=[random_entry(i, rng) for i in range(rng.randrange(0, 12))],
        failures=[
            Failure(uri=f"{k % 2}.png", stage="decode", reason=f"r{k}", run="x")
            for k in range(rng.randrange(0, 4))
        ],
        concepts=rng.choice([{}, {"dog": 4.5, "new word": 2.0, "sky": 1.0}]),
    )
    got = P.columns(batch)
    assert got is not None
    want = row_tables(batch)
    assert list(got) == list(want)
    for stem, table in want.items():
        assert got[stem].equals(table), stem


def _one(**kw: object) -> GraphBatch:
    els = [Element(name="dog", concept="dog"), Element(name="ball", concept="ball", rank=1)]
    evs = [Evocation(element="dog", concept="bone", distance=1, weight=0.5)]
    base: dict[str, object] = {"elements": els, "evocations": evs}
    base.update(kw)
    image = ImageRecord(id="a" * 64, uris=["a.jpg"])
    return GraphBatch(images=[ImageEntry(image=image, **base)])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "batch",
    [
        # one picture twice (merged), an element key twice (first wins), an
        # evocation twice (best rank wins), captions
        GraphBatch(images=_one().images * 2),
        _one(elements=[Element(name="Dog", concept="Dog"), Element(name="d", concept="dog ")]),
        _one(
            evocations=[
                Evocation(element="dog", concept="bone", distance=1, weight=0.5, rank=2),
                Evocation(element="Dog", concept="bone", distance=1, weight=0.4, rank=0),
            ]
        ),
        GraphBatch(
            images=_one().images,
            captions=[Caption(image_id="a" * 64, text="a dog", depth=1, realizer="template")],
        ),
    ],
)
def test_rare_batches_go_to_the_row_planner_with_the_same_tables(batch: GraphBatch) -> None:
    assert P.columns(batch) is None
    got, want = P.plan_tables(batch), row_tables(batch)
    for stem, table in want.items():
        assert got[stem].equals(table), stem


def test_an_evocation_without_weight_is_refused_as_before() -> None:
    batch = _one(evocations=[Evocation(element="dog", concept="bone", distance=1)])
    assert P.columns(batch) is None
    with pytest.raises(RecordError, match="has no weight"):
        P.plan_tables(batch)
    # a self-evocation without weight is no row, so no error either way
    ok = _one(evocations=[Evocation(element="dog", concept="dog", distance=1)])
    assert P.columns(ok) is not None and P.columns(ok)["evokes"].num_rows == 0  # type: ignore[index]


def _images(start: int, n: int, rng: random.Random) -> GraphBatch:
    return GraphBatch(
        images=[
            ImageEntry(
                image=ImageRecord(id=f"{i:064x}", uris=[f"{i}.jpg"]),
                elements=[Element(name=w, concept=w) for w in ("dog", "sky")],
                evocations=[
                    Evocation(
                        element=e,
                        concept=rng.choice(["ball", "tree", "sea", "red"]),
                        distance=d,
                        weight=0.5,
                    )
                    for e in ("dog", "sky")
                    for d in (1, 4)
                ],
                stage_keys={"elements": "k", "associations": "a"},
            )
            for i in range(start, start + n)
        ]
    )


def test_more_new_evokes_than_stored_rebuild_the_table_with_the_same_graph(
    tmp_path: Path, snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write whose new EVOKES rows outnumber the stored ones copies all into the
    table recreated empty; the graph is the one written the other way round, and
    a failure after the drop leaves the stored rows as they were."""
    small, big = _images(0, 3, random.Random(1)), _images(3, 20, random.Random(2))
    kbs, drops = [], []
    run = LadybugStore._run

    def spy(self: LadybugStore, cypher: str, params: object = None) -> object:
        drops.extend([self.path.stem] if cypher == "DROP TABLE EVOKES" else [])
        return run(self, cypher, params)  # type: ignore[arg-type]

    monkeypatch.setattr(LadybugStore, "_run", spy)
    for name, order in (("rebuilt", (small, big)), ("appended", (big, small))):
        kb = LadybugStore(tmp_path / f"{name}.kb", create=True)
        for b in order:
            kb.write(b)
        kb.recompute_associations()
        kbs.append(kb)
    rebuilt, appended = kbs
    assert drops == ["rebuilt"]  # 80 new rows over 12 stored; never the other way round
    with rebuilt, appended:
        assert snapshot(rebuilt) == snapshot(appended)
        assert rebuilt.stats().evokes == 23 * 4
        before = snapshot(rebuilt)
        copy = LadybugStore._copy_table

        def failing(self: LadybugStore, name: str, table: object) -> int:
            if name == "EVOKES":
                raise RuntimeError("disk full (simulated)")
            return copy(self, name, table)  # type: ignore[arg-type]

        monkeypatch.setattr(LadybugStore, "_copy_table", failing)
        with pytest.raises(RuntimeError, match="simulated"):
            rebuilt.write(_images(100, 50, random.Random(3)))
        monkeypatch.undo()
        assert snapshot(rebuilt) == before


@pytest.mark.parametrize("seed", range(30))
def test_unique_evocations_agrees_with_a_group_by(seed: int) -> None:
    import pyarrow as pa

    rng = random.Random(seed)
    n = rng.randrange(0, 40)
    table = pa.table(
        {
            "from": [f"i:{rng.choice('abc')}" for _ in range(n)],
            "to": [rng.choice(["x", "y", "z", "w"]) for _ in range(n)],
            "distance": [
                rng.choice([1, 2, 5, None] if seed % 5 == 0 else [1, 2, 5]) for _ in range(n)
            ],
        },
        schema=pa.schema([("from", pa.string()), ("to", pa.string()), ("distance", pa.int64())]),
    )
    want = table.group_by(["from", "to", "distance"]).aggregate([]).num_rows == n
    assert P._unique_evocations(table) == want


def test_concepts_not_yet_keys_and_odd_stage_keys_give_the_row_planner_tables() -> None:
    """Records built without validation (``model_construct``) may hold concepts
    that are not keys yet ("Big  Sea", "Dog", "Straße"): the element ids then
    take the keys as the row planner makes them; stage keys are dumped as JSON
    whatever their order or types; a uri given twice is kept once."""
    raw = ["Big  Sea", "Dog", "Straße", "tree", "\tsky", "x\x1fy", "ok word", "A"]
    entries = []
    for i in range(6):
        els = [Element.model_construct(name=w, concept=w, rank=r) for r, w in enumerate(raw[i:])]
        evs = [
            Evocation.model_construct(
                element=w, concept=raw[(i + k) % len(raw)].strip(), distance=1 + k % 5, weight=0.5
            )
            for k, w in enumerate(raw[i:])
        ]
        keys: dict[str, object] = (
            {"elements": "k", "associations": "a"}
            if i % 3 == 0
            else {"associations": "a", "elements": "k"}
            if i % 3 == 1
            else {"elements": 3}
        )
        entries.append(
            ImageEntry.model_construct(
                image=ImageRecord(id=f"{i:064x}", uris=[f"{i}.jpg", "b.png", f"{i}.jpg"]),
                elements=els,
                evocations=evs,
                stage_keys=keys,
            )
        )
    batch = GraphBatch(images=entries)
    got = P.columns(batch)
    assert got is not None
    want = row_tables(batch)
    assert got["elements"]["id"].to_pylist()[:2] == [f"{0:064x}:big sea", f"{0:064x}:dog"]
    for stem, table in want.items():
        assert got[stem].equals(table), stem


def test_first_positions_by_code_with_and_without_first_seen_codes() -> None:
    import pyarrow as pa

    assert P._first_positions(pa.array([0, 0, 1, 0, 2, 1], pa.int32()), 3).tolist() == [0, 2, 4]
    # codes not numbered in the order first seen: found by a sort, still by code
    assert P._first_positions(pa.array([2, 0, 2, 1], pa.int32()), 3).tolist() == [1, 3, 0]
    assert P._first_positions(pa.array([], pa.int32()), 0).tolist() == []
