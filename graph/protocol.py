"""The :class:`GraphStore` protocol every backend implements, and the
read-only guard for user Cypher.

Backends import this module (never :mod:`evokegraph.graph.store`, the factory
that opens them), so the backends and the factory form no import cycle.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

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

if TYPE_CHECKING:
    import pyarrow as pa

# A store that defers its checkpoints (BulkStore) takes one at most this often
# during big writes (the runner's big flushes, a shard load).
CHECKPOINT_EVERY_S = 30.0


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


@runtime_checkable
class FileStore(Protocol):
    """A store kept in one local file (the embedded backend): ``path``."""

    path: Path


@runtime_checkable
class BulkStore(Protocol):
    """A store that takes whole Arrow tables of planned rows (the graph tables'
    columns, :mod:`evokegraph.graph.arrow_schema`) and defers its checkpoints:
    the capability the bulk load and the runner's big flushes use (LadybugDB)."""

    def defer_checkpoints(self, every_s: float | None) -> None:
        """Checkpoint at most every ``every_s`` seconds; None: the engine's default."""

    def checkpoint(self) -> None:
        """Checkpoint now."""

    def bulk_copy(self, tables: Sequence[tuple[str, pa.Table]], meta: dict[str, str]) -> None:
        """``COPY`` whole tables (rows not yet stored) and set ``meta``, in one transaction."""

    def write_new(self, tables: Mapping[str, pa.Table]) -> dict[str, int] | None:
        """Copy planned rows when none of their images is stored; None when one is."""


_WRITE_WORDS = re.compile(
    r"\b(CREATE|MERGE|DELETE|DETACH|SET|REMOVE|DROP|ALTER|COPY|LOAD|INSTALL|ATTACH|"
    r"IMPORT|EXPORT|CHECKPOINT|BEGIN|COMMIT|ROLLBACK|FOREACH)\b",
    re.IGNORECASE,
)
_STRINGS = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`|//[^\n]*|/\*.*?\*/", re.S)


def is_write_query(cypher: str) -> bool:
    """True when the statement may write (keywords outside strings/comments)."""
    if len(cypher) <= _MEMO_CHARS:  # H24: the explorer's few query texts, asked per query
        return _is_write_memo(cypher)
    return bool(_WRITE_WORDS.search(_STRINGS.sub(" ", cypher)))


_MEMO_CHARS = 2000  # texts this long at most are remembered (256 of them)


@functools.lru_cache(maxsize=256)
def _is_write_memo(cypher: str) -> bool:
    return bool(_WRITE_WORDS.search(_STRINGS.sub(" ", cypher)))
