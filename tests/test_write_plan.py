"""graph/write_plan.py, pure: a GraphBatch -> the rows each table receives."""

from __future__ import annotations

import json

from evokegraph.graph import write_plan as W
from evokegraph.records import (
    Caption,
    Element,
    Evocation,
    Failure,
    GraphBatch,
    ImageEntry,
    ImageRecord,
)
from evokegraph.stage_keys import STAGE_ASSOCIATIONS, STAGE_ELEMENTS

A, B = "a" * 64, "b" * 64


def entry(image_id: str = A, **kw: object) -> ImageEntry:
    image = ImageRecord(id=image_id, uris=[f"{image_id[:1]}.jpg"], captions=["a dog"])
    return ImageEntry(image=image, **kw)  # type: ignore[arg-type]


def ev(element: str, concept: str, d: int, rank: int = 0) -> Evocation:
    return Evocation(element=element, concept=concept, distance=d, rank=rank, weight=0.5)


def test_an_image_twice_in_one_batch_is_one_row_with_uris_and_captions_united() -> None:
    first = entry(stage_keys={STAGE_ELEMENTS: "k1"})
    again = ImageEntry(
        image=ImageRecord(id=A, uris=["copy.jpg"], captions=["a dog", "a puppy"]),
        stage_keys={STAGE_ASSOCIATIONS: "k2"},
    )
    plan = W.plan_write(GraphBatch(images=[first, again]))
    (row,) = plan.images
    assert row["uris"] == ["a.jpg", "copy.jpg"]
    assert row["captions"] == ["a dog", "a puppy"]
    assert json.loads(row["stage_keys"]) == {STAGE_ELEMENTS: "k1", STAGE_ASSOCIATIONS: "k2"}


def test_elements_replace_the_image_and_evocations_alone_replace_only_evokes() -> None:
    els = [Element(name="Dog", concept="dog"), Element(name="ball", concept="ball", rank=1)]
    whole = entry(A, elements=els, evocations=[ev("dog", "bone", 1)])
    only = entry(B, evocations=[ev("cat", "milk", 2)])
    plan = W.plan_write(GraphBatch(images=[whole, only]))
    assert plan.replace_elements == [A] and plan.replace_evocations_only == [B]
    assert [r["id"] for r in plan.elements] == [f"{A}:dog", f"{A}:ball"]
    assert plan.has_element == [{"from": A, "to": f"{A}:dog"}, {"from": A, "to": f"{A}:ball"}]
    assert plan.is_rows == [{"from": f"{A}:dog", "to": "dog"}, {"from": f"{A}:ball", "to": "ball"}]
    assert {(r["from"], r["to"], r["distance"]) for r in plan.evokes} == {
        (f"{A}:dog", "bone", 1),
        (f"{B}:cat", "milk", 2),
    }
    # elements without evocations: the stored associations key must go on merge
    assert plan.drop_stages == {}
    bare = W.plan_write(GraphBatch(images=[entry(A, elements=els)]))
    assert bare.drop_stages == {A: {STAGE_ASSOCIATIONS}}


def test_one_evokes_row_per_element_concept_distance_best_rank_wins() -> None:
    els = [Element(name="dog", concept="dog")]
    evs = [ev("dog", "bone", 1, rank=2), ev("dog", "bone", 1, rank=0), ev("dog", "dog", 1)]
    (row,) = W.plan_write(GraphBatch(images=[entry(elements=els, evocations=evs)])).evokes
    assert (row["to"], row["rank"]) == ("bone", 0)  # the self-evocation is never a row


def test_captions_and_failures_once_each_and_failures_resolved_by_stage() -> None:
    cap = Caption(image_id=A, text="a dog", depth=1, realizer="template", uses=["dog", "dog"])
    fail = Failure(image_id=A, uri="a.jpg", stage="associations", reason="x")
    batch = GraphBatch(
        images=[entry(stage_keys={STAGE_ASSOCIATIONS: "k"})], captions=[cap, cap], failures=[fail]
    )
    plan = W.plan_write(batch)
    assert len(plan.captions) == 1 and plan.uses == [{"from": plan.captions[0]["id"], "to": "dog"}]
    assert len(plan.failures) == 1
    stored = [
        {"id": "f1", "image_id": A, "stage": "associations", "uri": "a.jpg"},
        {"id": "f2", "image_id": A, "stage": "elements", "uri": "a.jpg"},
        {"id": "f3", "image_id": "", "stage": "decode", "uri": "a.jpg"},
    ]
    assert W.plan_write(batch).failures_params() == {"ids": [A], "uris": ["a.jpg"]}
    assert plan.resolved_failure_ids(stored) == ["f1", "f3"]
    assert W.plan_write(GraphBatch()).failures_params() is None


def test_an_image_seen_again_keeps_the_union_and_drops_stale_keys() -> None:
    old = {
        "uris": ["old.jpg"],
        "captions": ["old caption"],
        "width": 8,
        "height": 8,
        "format": "PNG",
        "split": "val",
        "description": "stored",
        "stage_keys": json.dumps({STAGE_ELEMENTS: "e0", STAGE_ASSOCIATIONS: "a0"}),
    }
    plan = W.plan_write(GraphBatch(images=[entry(elements=[], stage_keys={STAGE_ELEMENTS: "e1"})]))
    new = plan.images[0]
    merged = W.merge_image_row(old, new, plan)
    assert merged["uris"] == ["old.jpg", "a.jpg"] and merged["captions"] == ["old caption", "a dog"]
    assert (merged["split"], merged["format"], merged["description"]) == ("val", "PNG", "stored")
    assert json.loads(merged["stage_keys"]) == {STAGE_ELEMENTS: "e1"}  # associations redone later


def test_aggregate_rows_use_an_order_free_mean_and_the_support() -> None:
    from evokegraph.weights import aggregate_weight

    rows = [{"source": "dog", "target": "bone", "distance": 1, "support": 2, "weights": [0.1, 0.7]}]
    backwards = [{**rows[0], "weights": [0.7, 0.1]}]
    (out,) = W.aggregate_rows(rows)
    assert out == {
        "from": "dog",
        "to": "bone",
        "distance": 1,
        "weight": aggregate_weight(0.4, 2),
        "support": 2,
    }
    assert W.aggregate_rows(backwards) == [out]
