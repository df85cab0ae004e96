"""The Neo4j backend's queries and parameters, against a recording stand-in.

No Neo4j 5 server can run in this workplace, so these tests check what the
backend *sends*: exact statements, parameters, chunking, and that no user or
model text ever appears in Cypher text. The live contract suite
(tests/test_store_contract.py) runs the same backend against a real server
whenever EVOKEGRAPH_NEO4J_URI is set.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from evokegraph.errors import (
    NotAKnowledgeBaseError,
    ReadOnlyQueryError,
    SchemaVersionError,
    StoreError,
)
from evokegraph.graph import cypher_text
from evokegraph.graph import neo4j_store as N
from evokegraph.graph.schema import NODES, neo4j_ddl
from evokegraph.records import (
    Element,
    Evocation,
    GraphBatch,
    ImageEntry,
    ImageRecord,
)

Handler = Callable[[str, dict[str, Any]], list[dict[str, Any]]]


class FakeResult(list):
    def consume(self) -> None:
        return None


class FakeTx:
    def __init__(self, driver: FakeDriver) -> None:
        self.driver = driver

    def run(self, cypher: str, params: dict[str, Any] | None = None) -> FakeResult:
        return self.driver._answer(cypher, params or {}, "tx")


class FakeSession:
    def __init__(self, driver: FakeDriver) -> None:
        self.driver = driver

    def __enter__(self) -> FakeSession:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def execute_write(self, work: Callable[[FakeTx], Any]) -> Any:
        self.driver.transactions += 1
        return work(FakeTx(self.driver))


class FakeDriver:
    """Records every (cypher, params) and answers from a handler."""

    def __init__(
        self, version: str = "5.26.0", schema: str | None = "1", handler: Handler | None = None
    ):
        self.calls: list[tuple[str, dict[str, Any], str]] = []
        self.version = version
        self.schema = schema
        self.handler = handler or (lambda q, p: [])
        self.transactions = 0
        self.closed = False

    def _answer(self, cypher: str, params: dict[str, Any], via: str) -> FakeResult:
        self.calls.append((cypher, params, via))
        if cypher.startswith("CALL dbms.components"):
            return FakeResult([{"v": self.version}])
        if cypher.startswith("MATCH (m:Meta"):
            return FakeResult([{"v": self.schema}] if self.schema else [])
        return FakeResult(self.handler(cypher, params))

    def execute_query(self, cypher: str, params: dict[str, Any], **kw: Any) -> tuple:
        return (self._answer(cypher, params, "auto"), None, None)

    def session(self, database: str | None = None) -> FakeSession:
        return FakeSession(self)

    def close(self) -> None:
        self.closed = True


def entry(image_id: str = "img0" * 16) -> ImageEntry:
    return ImageEntry(
        image=ImageRecord(id=image_id, uris=["a.jpg"], captions=["a dog on a lawn"]),
        elements=[Element(name="dog", concept="dog"), Element(name="lawn", concept="lawn", rank=1)],
        evocations=[
            Evocation(element="dog", concept="puppy", distance=1, weight=0.9),
            Evocation(element="dog", concept="loyalty", distance=4, weight=0.5),
            Evocation(element="lawn", concept="garden", distance=2, weight=0.7),
        ],
        stage_keys={"elements": "e1", "associations": "a1"},
    )


def test_connect_checks_schema_stamp() -> None:
    with pytest.raises(
        NotAKnowledgeBaseError, match="no evokegraph schema; run `evokegraph --backend neo4j init`"
    ):
        N.Neo4jStore(FakeDriver(schema=None), uri="bolt://x")
    with pytest.raises(SchemaVersionError, match="schema version 9, newer than"):
        N.Neo4jStore(FakeDriver(schema="9"))
    with pytest.raises(StoreError, match="Neo4j 4.4.1 is too old"):
        N.Neo4jStore(FakeDriver(version="4.4.1"))


def test_init_creates_constraints_and_stamp() -> None:
    d = FakeDriver(schema=None)
    store = N.Neo4jStore(d, create=True)
    sent = [c[0] for c in d.calls]
    for stmt in neo4j_ddl():
        assert stmt in sent
    for n in NODES:
        assert any(f"FOR (n:{n.label}) REQUIRE n.{n.key} IS UNIQUE" in s for s in sent)
    assert (cypher_text.W_SET_META, {"k": "schema_version", "v": "1"}) in [
        (c[0], c[1]) for c in d.calls
    ]
    assert store.schema_version == 1


def test_write_is_one_transaction_of_unwind_merge_batches() -> None:
    d = FakeDriver()
    store = N.Neo4jStore(d, batch_size=2)
    d.calls.clear()
    counts = store.write(GraphBatch(images=[entry()]))
    assert d.transactions == 1
    assert all(via == "tx" for *_, via in d.calls)
    sent = [(q, p) for q, p, _ in d.calls]
    queries = [q for q, _ in sent]
    # five concepts (dog, lawn, puppy, loyalty, garden) in chunks of 2
    concept_calls = [p["rows"] for q, p in sent if q == N.W_CONCEPTS]
    assert [len(c) for c in concept_calls] == [2, 2, 1]
    assert {r["name"] for c in concept_calls for r in c} == {
        "dog",
        "lawn",
        "puppy",
        "loyalty",
        "garden",
    }
    # replace-per-image: delete old elements before merging new ones
    assert queries.index(N.W_DELETE_ELEMENTS) < queries.index(N.W_ELEMENTS)
    evokes = [r for q, p in sent if q == N.W_EVOKES for r in p["rows"]]
    assert sorted((r["from"].split(":")[1], r["to"], r["distance"]) for r in evokes) == [
        ("dog", "loyalty", 4),
        ("dog", "puppy", 1),
        ("lawn", "garden", 2),
    ]
    images = [r for q, p in sent if q == N.W_IMAGES for r in p["rows"]]
    assert images[0]["stage_keys"] == '{"associations": "a1", "elements": "e1"}'
    assert counts["images"] == 1 and counts["concepts"] == 5


def test_model_text_never_enters_cypher() -> None:
    evil = "x'}) DETACH DELETE n //`"
    d = FakeDriver()
    store = N.Neo4jStore(d)
    e = entry()
    e.evocations = [Evocation(element="dog", concept=evil, surface=evil, distance=3, weight=1.0)]
    store.write(GraphBatch(images=[e]))
    store.context(e.image.id, 3)
    store.get_image(e.image.id)
    assert d.calls
    for cypher, _params, _ in d.calls:
        assert evil.casefold() not in cypher.casefold()
    assert any(evil.casefold() in str(p).casefold() for _, p, _ in d.calls)


def test_existing_image_merges_uris_and_stage_keys() -> None:
    old = {"id": "img0" * 16, "uris": ["old.jpg"], "captions": ["old"], "stage_keys": '{"x": "1"}'}

    def handler(q: str, p: dict[str, Any]) -> list[dict[str, Any]]:
        if "MATCH (n:Image" in q:
            return [{"n": old}]
        return []

    d = FakeDriver(handler=handler)
    store = N.Neo4jStore(d)
    store.write(GraphBatch(images=[entry()]))
    rows = [r for q, p, _ in d.calls if q == N.W_IMAGES for r in p["rows"]]
    assert rows[0]["uris"] == ["old.jpg", "a.jpg"]
    assert rows[0]["captions"] == ["old", "a dog on a lawn"]
    assert '"x": "1"' in rows[0]["stage_keys"] and '"elements": "e1"' in rows[0]["stage_keys"]


def test_context_builds_paths_from_rows() -> None:
    def handler(q: str, p: dict[str, Any]) -> list[dict[str, Any]]:
        if "RETURN e.concept AS concept" in q:
            return [{"concept": "dog"}]
        if "MATCH (e)-[v:EVOKES]->(c:Concept) RETURN" in q:
            return [
                {
                    "element": "dog",
                    "concept": "loyalty",
                    "distance": 4,
                    "weight": 0.5,
                    "pos": "NOUN",
                }
            ]
        if "ASSOCIATED_WITH" in q and "a.name IN $names" in q:
            assert p == {"names": ["loyalty"], "maxd": 3}
            return [
                {
                    "source": "loyalty",
                    "target": "trust",
                    "distance": 3,
                    "weight": 0.4,
                    "pos": "NOUN",
                }
            ]
        return []

    store = N.Neo4jStore(FakeDriver(handler=handler))
    paths = store.context("img", 7)
    assert [(p.concept, p.depth, round(p.weight, 3)) for p in paths] == [("trust", 7, 0.2)]
    assert [s.kind for s in paths[0].steps] == ["EVOKES", "ASSOCIATED_WITH"]


def test_query_refuses_writes_and_recompute_sends_aggregate() -> None:
    d = FakeDriver(
        handler=lambda q, p: (
            [
                {
                    "source": "dog",
                    "target": "puppy",
                    "distance": 1,
                    "support": 3,
                    "weights": [0.9, 0.7, 0.8],
                }
            ]
            if "collect(v.weight)" in q
            else []
        )
    )
    store = N.Neo4jStore(d)
    with pytest.raises(ReadOnlyQueryError, match="pass write=True"):
        store.query("MATCH (n) DETACH DELETE n")
    assert store.recompute_associations() == 1
    agg = [p["rows"] for q, p, _ in d.calls if q == N.W_ASSOCIATED][0]
    assert agg == [
        {"from": "dog", "to": "puppy", "distance": 1, "weight": pytest.approx(0.6), "support": 3}
    ]
    store.close()
    assert d.closed
