"""Shared fixtures. Heavy libraries are imported lazily; torch runs on one thread."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

try:  # keep CI's two cores for pytest itself
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover - the dev extra installs torch
    pass

from evokegraph.graph.ladybug_store import LadybugStore  # noqa: E402


@pytest.fixture
def kb_path(tmp_path: Path) -> Path:
    return tmp_path / "test.kb"


@pytest.fixture
def kb(kb_path: Path) -> Iterator[LadybugStore]:
    """A fresh embedded knowledge base."""
    store = LadybugStore(kb_path, create=True)
    try:
        yield store
    finally:
        store.close()


def neo4j_settings() -> dict[str, str] | None:
    uri = os.environ.get("EVOKEGRAPH_NEO4J_URI")
    if not uri:
        return None
    return {
        "uri": uri,
        "user": os.environ.get("EVOKEGRAPH_NEO4J_USER", "neo4j"),
        "password": os.environ.get("EVOKEGRAPH_NEO4J_PASSWORD", ""),
    }


@pytest.fixture(params=["ladybug", "neo4j"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """Every reachable backend, for the contract suite.

    LadybugDB always; Neo4j only when EVOKEGRAPH_NEO4J_URI is set (the test
    database is wiped before each test, so point it at a throwaway database).
    """
    if request.param == "ladybug":
        s = LadybugStore(tmp_path / "contract.kb", create=True)
    else:
        cfg = neo4j_settings()
        if cfg is None:
            pytest.skip("Neo4j not configured: set EVOKEGRAPH_NEO4J_URI (+ _USER, _PASSWORD)")
        from evokegraph.graph.neo4j_store import Neo4jStore

        s = Neo4jStore.connect(cfg["uri"], cfg["user"], cfg["password"], create=True)
        s.wipe()
        s.ensure_schema()
    try:
        yield s
    finally:
        s.close()


def graph_snapshot(kb: LadybugStore) -> dict[str, object]:
    """Everything a knowledge base holds except provenance (Run nodes, run ids,
    failure timestamps), as sorted values: two snapshots are equal exactly when
    the graphs are."""
    import json

    q = kb.query

    def rows(cypher: str) -> list[tuple[object, ...]]:
        return sorted(tuple(json.dumps(v, sort_keys=True) for v in r.values()) for r in q(cypher))

    return {
        "stats": {k: v for k, v in kb.stats().model_dump().items() if k != "runs"},
        "images": rows(
            "MATCH (i:Image) RETURN i.id, i.uris, i.captions, i.stage_keys, i.description"
        ),
        "elements": rows(
            "MATCH (i:Image)-[:HAS_ELEMENT]->(e:Element)-[:IS]->(c:Concept) "
            "RETURN i.id, e.id, c.name, e.rank"
        ),
        "evokes": rows(
            "MATCH (e:Element)-[v:EVOKES]->(c:Concept) RETURN e.id, c.name, v.distance, v.weight, v.rank"
        ),
        "assoc": rows(
            "MATCH (a:Concept)-[r:ASSOCIATED_WITH]->(b:Concept) "
            "RETURN a.name, b.name, r.distance, r.support, r.weight"
        ),
        "concepts": rows("MATCH (c:Concept) RETURN c.name, c.concreteness"),
        "failures": sorted((f.uri, f.stage, f.reason) for f in kb.failures()),
    }


@pytest.fixture(scope="session")
def snapshot():
    """The :func:`graph_snapshot` function, for tests comparing whole graphs."""
    return graph_snapshot
