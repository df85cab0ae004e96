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
