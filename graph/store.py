"""The :class:`GraphStore` protocol and the factory that opens a backend."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from evokegraph.errors import UserInputError
from evokegraph.records import (
    ContextPath,
    Failure,
    GraphBatch,
    ImageRecord,
    ImageView,
    Pair,
    RunRecord,
    Stats,
)

DEFAULT_DB = "./evokegraph.kb"
BackendName = Literal["ladybug", "neo4j"]


@dataclass
class StoreConfig:
    """Where and how to open a store; built from CLI options or env vars."""

    backend: BackendName = "ladybug"
    path: str = DEFAULT_DB
    uri: str = ""
    user: str = "neo4j"
    password: str = ""
    database: str | None = None
    batch_size: int = 5000
    read_only: bool = False
    create: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, **overrides: Any) -> StoreConfig:
        env = os.environ
        cfg = cls(
            backend="neo4j" if env.get("EVOKEGRAPH_BACKEND") == "neo4j" else "ladybug",
            path=env.get("EVOKEGRAPH_DB", DEFAULT_DB),
            uri=env.get("EVOKEGRAPH_NEO4J_URI", ""),
            user=env.get("EVOKEGRAPH_NEO4J_USER", "neo4j"),
            password=env.get("EVOKEGRAPH_NEO4J_PASSWORD", ""),
            database=env.get("EVOKEGRAPH_NEO4J_DATABASE") or None,
        )
        for k, v in overrides.items():
            if v is not None:
                setattr(cfg, k, v)
        return cfg


@runtime_checkable
class GraphStore(Protocol):
    """What every backend offers. All Cypher built here uses parameters only."""

    backend: str

    def __enter__(self) -> GraphStore: ...
    def __exit__(self, *exc: object) -> None: ...
    def close(self) -> None: ...

    def ensure_schema(self) -> None:
        """Create tables/constraints if missing and stamp the schema version."""

    def write(self, batch: GraphBatch) -> dict[str, int]:
        """Write a batch idempotently (replace per image, merge the rest)."""

    def record_run(self, run: RunRecord) -> None: ...
    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...
    def runs(self) -> list[RunRecord]: ...
    def stats(self) -> Stats: ...
    def get_image(self, image_id: str) -> ImageView | None: ...
    def stage_keys(self, image_ids: Sequence[str]) -> dict[str, dict[str, str]]: ...
    def image_records(
        self, image_ids: Sequence[str]
    ) -> dict[str, tuple[ImageRecord, dict[str, str]]]:
        """Stored images (record, stage keys) among ``image_ids``, in one query."""

    def image_ids(self) -> list[str]: ...

    def context(self, image_id: str, depth: int, *, max_shared_hops: int = 2) -> list[ContextPath]:
        """Paths from the image's elements to concepts at accumulated depth."""

    def contexts(
        self, image_id: str, depths: Sequence[int], *, max_shared_hops: int = 2
    ) -> dict[int, list[ContextPath]]:
        """``context`` for several depths with one read of the image's edges."""

    def iter_pairs(
        self,
        depths: Sequence[int] | None = None,
        min_weight: float = 0.0,
        realizer: str | None = None,
    ) -> Iterator[Pair]: ...

    def failures(self, run: str | None = None) -> list[Failure]: ...
    def delete_image(self, image_id: str) -> bool: ...
    def recompute_associations(self, concepts: Iterable[str] | None = None) -> int: ...

    def query(
        self, cypher: str, params: dict[str, Any] | None = None, *, write: bool = False
    ) -> list[dict[str, Any]]:
        """Run user Cypher; refuses writes unless ``write=True``."""


_WRITE_WORDS = re.compile(
    r"\b(CREATE|MERGE|DELETE|DETACH|SET|REMOVE|DROP|ALTER|COPY|LOAD|INSTALL|ATTACH|"
    r"IMPORT|EXPORT|CHECKPOINT|BEGIN|COMMIT|ROLLBACK|FOREACH)\b",
    re.IGNORECASE,
)
_STRINGS = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`|//[^\n]*|/\*.*?\*/", re.S)


def is_write_query(cypher: str) -> bool:
    """True when the statement may write (keywords outside strings/comments)."""
    return bool(_WRITE_WORDS.search(_STRINGS.sub(" ", cypher)))


def open_store(config: StoreConfig | None = None, **overrides: Any) -> GraphStore:
    """Open (and with ``create=True`` initialise) the configured store."""
    cfg = config or StoreConfig.from_env()
    for k, v in overrides.items():
        setattr(cfg, k, v)
    if cfg.backend == "ladybug":
        from evokegraph.graph.ladybug_store import LadybugStore

        return LadybugStore(Path(cfg.path), read_only=cfg.read_only, create=cfg.create)
    if cfg.backend == "neo4j":
        from evokegraph.graph.neo4j_store import Neo4jStore

        if not cfg.uri:
            raise UserInputError(
                "the neo4j backend needs a URI; pass --neo4j-uri or set EVOKEGRAPH_NEO4J_URI"
            )
        return Neo4jStore.connect(
            cfg.uri,
            cfg.user,
            cfg.password,
            database=cfg.database,
            batch_size=cfg.batch_size,
            create=cfg.create,
        )
    raise UserInputError(f"unknown backend {cfg.backend!r}; use ladybug or neo4j")
