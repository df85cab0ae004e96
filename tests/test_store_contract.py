"""The GraphStore contract, run against every reachable backend.

LadybugDB, and the Neo4j backend on the session's live Bolt server
(ArcadeDB from the ``server`` extra, or a real Neo4j when
EVOKEGRAPH_NEO4J_URI is set). Small hand-built graphs with the expected
answers written out.
"""

from __future__ import annotations

import pytest

from evokegraph.errors import ReadOnlyQueryError, UserInputError
from evokegraph.records import (
    Caption,
    Element,
    Evocation,
    Failure,
    GraphBatch,
    ImageEntry,
    ImageRecord,
    PathStep,
    RunRecord,
)

A = "a" * 64
B = "b" * 64


def ev(element: str, concept: str, d: int, w: float, rank: int = 0) -> Evocation:
    return Evocation(element=element, concept=concept, distance=d, weight=w, rank=rank)


def image_a() -> ImageEntry:
    """A dog on a beach: dog and beach are elements."""
    return ImageEntry(
        image=ImageRecord(id=A, uris=["a.jpg"], captions=["a dog on a beach"], split="train"),
        elements=[
            Element(name="dog", concept="dog"),
            Element(name="beach", concept="beach", rank=1),
        ],
        evocations=[
            ev("dog", "puppy", 1, 0.9),
            ev("dog", "pet", 2, 0.8),
            ev("dog", "play", 3, 0.7),
            ev("dog", "loyalty", 4, 0.6),
            ev("dog", "devotion", 5, 0.5),
            ev("beach", "shore", 1, 0.9),
            ev("beach", "coast", 2, 0.8),
            ev("beach", "holiday", 3, 0.7),
            ev("beach", "freedom", 4, 0.6),
            ev("beach", "eternity", 5, 0.4),
        ],
        stage_keys={"elements": "E", "associations": "M"},
    )


def image_b() -> ImageEntry:
    """A dog in snow: 'dog' evokes other things in this context."""
    return ImageEntry(
        image=ImageRecord(id=B, uris=["b.jpg"], captions=["a dog in the snow"]),
        elements=[Element(name="dog", concept="dog"), Element(name="snow", concept="snow", rank=1)],
        evocations=[
            ev("dog", "hound", 1, 0.9),
            ev("dog", "loyalty", 4, 0.8),
            ev("snow", "ice", 1, 0.9),
            ev("snow", "winter", 3, 0.8),
            ev("snow", "silence", 5, 0.7),
        ],
        stage_keys={"elements": "E", "associations": "M"},
    )


def snapshot(store) -> dict:
    """Everything the graph holds, as sorted tuples (for equality checks)."""
    return {
        "stats": store.stats().model_dump(),
        "evokes": sorted(
            tuple(r.values())
            for r in store.query(
                "MATCH (i:Image)-[:HAS_ELEMENT]->(e:Element) MATCH (e)-[v:EVOKES]->(c:Concept) "
                "RETURN i.id AS i, e.concept AS e, c.name AS c, v.distance AS d, v.weight AS w"
            )
        ),
        "assoc": sorted(
            tuple(r.values())
            for r in store.query(
                "MATCH (a:Concept)-[r:ASSOCIATED_WITH]->(b:Concept) "
                "RETURN a.name AS a, b.name AS b, r.distance AS d, r.support AS s, r.weight AS w"
            )
        ),
    }


def test_write_twice_changes_nothing(store) -> None:
    batch = GraphBatch(images=[image_a(), image_b()])
    store.write(batch)
    store.recompute_associations()
    first = snapshot(store)
    store.write(batch)
    store.recompute_associations()
    assert snapshot(store) == first
    s = store.stats()
    assert (s.images, s.elements, s.evokes) == (2, 4, 15)
    # dog, beach, snow + 10 + 5 evoked, loyalty shared
    assert s.concepts == 3 + 10 + 4


def test_round_trip_image_view(store) -> None:
    store.write(GraphBatch(images=[image_a()]))
    view = store.get_image(A)
    assert view is not None
    assert view.image.uris == ["a.jpg"] and view.image.captions == ["a dog on a beach"]
    assert view.image.split == "train"
    assert [e.concept for e in view.elements] == ["dog", "beach"]
    assert len(view.evocations) == 10
    assert {(v.element, v.concept, v.distance) for v in view.evocations if v.element == "dog"} == {
        ("dog", "puppy", 1),
        ("dog", "pet", 2),
        ("dog", "play", 3),
        ("dog", "loyalty", 4),
        ("dog", "devotion", 5),
    }
    assert view.stage_keys == {"elements": "E", "associations": "M"}
    assert store.get_image("missing" * 4) is None


def test_same_picture_two_paths_is_one_image(store) -> None:
    e1 = ImageEntry(image=ImageRecord(id=A, uris=["x/a.jpg"]))
    e2 = ImageEntry(image=ImageRecord(id=A, uris=["y/copy of a.jpg"]))
    store.write(GraphBatch(images=[e1]))
    store.write(GraphBatch(images=[e2]))
    view = store.get_image(A)
    assert view is not None and view.image.uris == ["x/a.jpg", "y/copy of a.jpg"]
    assert store.stats().images == 1


def test_replacing_elements_drops_old_ones_and_stale_stage(store) -> None:
    store.write(GraphBatch(images=[image_a()]))
    new = ImageEntry(
        image=ImageRecord(id=A, uris=["a.jpg"]),
        elements=[Element(name="cat", concept="cat")],
        stage_keys={"elements": "E2"},
    )
    store.write(GraphBatch(images=[new]))
    view = store.get_image(A)
    assert [e.concept for e in view.elements] == ["cat"]
    assert view.evocations == []
    assert store.stage_keys([A]) == {A: {"elements": "E2"}}


def test_context_depths_one_to_five(store) -> None:
    store.write(GraphBatch(images=[image_a()]))
    got = {
        d: [(p.element, p.concept, round(p.weight, 3)) for p in store.context(A, d)]
        for d in range(1, 6)
    }
    assert got == {
        1: [("beach", "shore", 0.9), ("dog", "puppy", 0.9)],
        2: [("beach", "coast", 0.8), ("dog", "pet", 0.8)],
        3: [("beach", "holiday", 0.7), ("dog", "play", 0.7)],
        4: [("beach", "freedom", 0.6), ("dog", "loyalty", 0.6)],
        5: [("dog", "devotion", 0.5), ("beach", "eternity", 0.4)],
    }
    for p in store.context(A, 3):
        assert p.depth == 3 and [s.kind for s in p.steps] == ["EVOKES"]


def test_context_beyond_five_uses_shared_network(store) -> None:
    # image B teaches the shared network: loyalty -> (nothing); snow -> silence ...
    # image C teaches: loyalty -[3]-> trust, so image A's dog reaches trust at 4 + 3 = 7.
    c = ImageEntry(
        image=ImageRecord(id="c" * 64, uris=["c.jpg"]),
        elements=[Element(name="loyalty", concept="loyalty")],
        evocations=[ev("loyalty", "trust", 3, 0.8), ev("loyalty", "bond", 2, 0.6)],
    )
    store.write(GraphBatch(images=[image_a(), image_b(), c]))
    store.recompute_associations()
    paths = store.context(A, 7)
    # dog -EVOKES(4)-> loyalty -ASSOC(3)-> trust; 0.6 * (0.8 * 1/2)
    # dog -EVOKES(5)-> devotion has no shared edges; beach -EVOKES(4)-> freedom neither.
    assert [(p.element, p.concept, p.depth, round(p.weight, 3)) for p in paths] == [
        ("dog", "trust", 7, 0.24)
    ]
    assert [(s.kind, s.source, s.target, s.distance) for s in paths[0].steps] == [
        ("EVOKES", "dog", "loyalty", 4),
        ("ASSOCIATED_WITH", "loyalty", "trust", 3),
    ]
    six = [(p.element, p.concept) for p in store.context(A, 6)]
    assert six == [("dog", "bond")]
    with pytest.raises(UserInputError, match="depth must be between 1 and 15"):
        store.context(A, 0)


def test_associated_with_aggregates(store) -> None:
    store.write(GraphBatch(images=[image_a(), image_b()]))
    n = store.recompute_associations()
    assert n == 14  # 15 EVOKES, dog->loyalty@4 seen twice
    rows = store.query(
        "MATCH (a:Concept {name: $a})-[r:ASSOCIATED_WITH]->(b:Concept {name: $b}) "
        "RETURN r.distance AS d, r.support AS s, r.weight AS w",
        {"a": "dog", "b": "loyalty"},
    )
    # seen in two images at distance 4, weights 0.6 and 0.8 -> mean 0.7 * 2/3
    assert rows == [{"d": 4, "s": 2, "w": pytest.approx(0.7 * 2 / 3)}]
    # incremental recompute of one source gives the same answer
    before = snapshot(store)["assoc"]
    assert store.recompute_associations(["dog"]) == 6
    assert snapshot(store)["assoc"] == before


def test_delete_image_cleans_up_only_its_own(store) -> None:
    store.write(GraphBatch(images=[image_a(), image_b()]))
    store.write(
        GraphBatch(
            captions=[
                Caption(
                    image_id=A,
                    text="a loyal dog",
                    depth=4,
                    realizer="template",
                    path=[
                        PathStep(
                            kind="EVOKES", source="dog", target="loyalty", distance=4, weight=0.6
                        )
                    ],
                    uses=["loyalty"],
                )
            ]
        )
    )
    store.recompute_associations()
    assert store.delete_image(A) is True
    assert store.delete_image(A) is False
    s = store.stats()
    assert (s.images, s.elements, s.evokes, s.captions) == (1, 2, 5, 0)
    names = {r["n"] for r in store.query("MATCH (c:Concept) RETURN c.name AS n")}
    # dog and loyalty are still used by image B; beach's concepts are gone
    assert names == {"dog", "snow", "hound", "loyalty", "ice", "winter", "silence"}
    rows = store.query(
        "MATCH (a:Concept {name: $a})-[r:ASSOCIATED_WITH]->(b:Concept {name: $b}) "
        "RETURN r.support AS s",
        {"a": "dog", "b": "loyalty"},
    )
    assert rows == [{"s": 1}]


def test_captions_pairs_and_failures(store) -> None:
    store.write(GraphBatch(images=[image_a(), image_b()]))
    cap = Caption(
        image_id=A,
        text="a dog dreams of devotion",
        depth=5,
        realizer="template",
        path=[PathStep(kind="EVOKES", source="dog", target="devotion", distance=5, weight=0.5)],
        uses=["devotion"],
        weight=0.5,
    )
    batch = GraphBatch(
        captions=[cap],
        failures=[Failure(uri="bad.jpg", stage="decode", reason="truncated file", run="r1")],
    )
    store.write(batch)
    store.write(batch)
    assert store.stats().captions == 1 and store.stats().failures == 1
    pairs = list(store.iter_pairs())
    assert sorted((p.image_id[:1], p.depth, p.caption) for p in pairs) == [
        ("a", 0, "a dog on a beach"),
        ("a", 5, "a dog dreams of devotion"),
        ("b", 0, "a dog in the snow"),
    ]
    assert [p.caption for p in store.iter_pairs(depths=[5])] == ["a dog dreams of devotion"]
    assert list(store.iter_pairs(depths=[5], min_weight=0.9)) == []
    assert [p.caption for p in store.iter_pairs(realizer="literal")] == [
        "a dog on a beach",
        "a dog in the snow",
    ]
    view = store.get_image(A)
    assert [(c.depth, c.text, c.uses) for c in view.captions] == [(5, cap.text, ["devotion"])]
    assert view.captions[0].path == cap.path
    (f,) = store.failures()
    assert (f.uri, f.stage, f.reason) == ("bad.jpg", "decode", "truncated file")
    assert store.failures(run="r1") == [f] and store.failures(run="other") == []


def test_runs_are_recorded(store) -> None:
    run = RunRecord(
        id="run-1", command="ingest", config={"batch": 32}, versions={"evokegraph": "0.1.0"}
    )
    store.record_run(run)
    run.status = "done"
    run.counts = {"images": 2}
    store.record_run(run)
    (got,) = store.runs()
    assert (got.id, got.status, got.counts, got.config) == (
        "run-1",
        "done",
        {"images": 2},
        {"batch": 32},
    )


def test_user_text_is_data_not_cypher(store) -> None:
    evil = "dog'}) DETACH DELETE n //"
    e = image_a()
    e.evocations = [ev("dog", evil, 3, 0.5)]
    store.write(GraphBatch(images=[e]))
    assert store.stats().images == 1
    rows = store.query("MATCH (c:Concept {name: $n}) RETURN c.name AS n", {"n": evil.casefold()})
    assert rows == [{"n": evil.casefold()}]


def test_query_is_read_only_unless_asked(store) -> None:
    with pytest.raises(ReadOnlyQueryError, match="refusing a query that writes; pass write=True"):
        store.query("CREATE (:Concept {name: 'x'})")
    with pytest.raises(ReadOnlyQueryError):
        store.query("MATCH (c:Concept) SET c.pos = 'x'")
    # keywords inside strings do not count
    assert store.query("RETURN 'CREATE a poem' AS s") == [{"s": "CREATE a poem"}]
    store.query("MERGE (c:Concept {name: $n})", {"n": "written"}, write=True)
    assert store.query("MATCH (c:Concept {name: 'written'}) RETURN count(c) AS n") == [{"n": 1}]
