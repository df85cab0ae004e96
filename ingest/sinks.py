"""Where a run's outcomes go: one :class:`Sink` protocol, two sinks.

* :class:`StoreSink` writes into a :class:`~evokegraph.graph.store.GraphStore`
  (``write``, replace per image), ``flush_every`` images per transaction, and
  recomputes ``ASSOCIATED_WITH`` for what changed when closed;
* :class:`ShardSink` writes each shard's outcome as Parquet files
  (:func:`evokegraph.graph.shards.write_shard`), loaded later by
  :func:`evokegraph.graph.bulk.load`.

The local executor puts each batch's outcome into a store sink; the Ray
executor puts each finished shard's outcome into a shard sink. (As
neo4j-graphrag's ``KGWriter`` has ``Neo4jWriter`` and ``ParquetWriter``.)
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Protocol

from evokegraph.graph import shards as S
from evokegraph.graph.protocol import CHECKPOINT_EVERY_S, BulkStore
from evokegraph.graph.schema import AW_DIRTY
from evokegraph.graph.store import GraphStore
from evokegraph.ingest.batchwork import Outcome, ratings
from evokegraph.records import Failure, GraphBatch, ImageEntry, utcnow
from evokegraph.runs import Progress

# Big transactions (flush_every >= BIG_FLUSH images) checkpoint the embedded
# store at most every CHECKPOINT_EVERY_S seconds instead of after each commit
# (see BulkStore.defer_checkpoints); small ones keep the engine's default.
BIG_FLUSH = 512


class Sink(Protocol):
    def put(self, outcome: Outcome, part: int = 0) -> None:
        """Take one outcome (``part``: the shard it completes, for a shard sink)."""

    def close(self) -> dict[str, float]:
        """Finish; returns the seconds spent, by step."""


def batch_of(entries: list[ImageEntry], failures: list[Failure]) -> GraphBatch:
    return GraphBatch(images=entries, failures=failures, concepts=ratings(entries))


class StoreSink:
    """Outcomes into a store, ``flush_every`` images per transaction.

    While it is open the store's ``associations_dirty`` Meta key is "1": a run
    killed before :meth:`close` makes the next one recompute ASSOCIATED_WITH in
    full; a clean close recomputes only the element concepts it touched."""

    def __init__(self, store: GraphStore, flush_every: int, progress: Progress) -> None:
        self.store, self.flush_every, self.progress = store, flush_every, progress
        self.entries: list[ImageEntry] = []
        self.failures: list[Failure] = []
        self.touched: set[str] = set()
        self.full = store.get_meta(AW_DIRTY) == "1"
        self.seconds: dict[str, float] = {}
        store.set_meta(AW_DIRTY, "1")
        self.bulk = store if isinstance(store, BulkStore) and flush_every >= BIG_FLUSH else None
        if self.bulk is not None:
            self.bulk.defer_checkpoints(CHECKPOINT_EVERY_S)

    def put(self, outcome: Outcome, part: int = 0) -> None:
        self.entries += outcome.entries
        self.failures += outcome.failures
        self.touched |= outcome.touched
        self.full |= outcome.replaced
        if len(self.entries) >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        if not (self.entries or self.failures):
            return
        t = time.perf_counter()
        self.store.write(batch_of(self.entries, self.failures))
        self._time("write", t)
        self.progress.advance("write", len(self.entries))
        self.entries, self.failures = [], []

    def close(self) -> dict[str, float]:
        try:
            self.flush()
        finally:
            if self.bulk is not None:
                self.bulk.defer_checkpoints(None)
        t = time.perf_counter()
        if self.full:
            self.store.recompute_associations(None)
        elif self.touched:
            self.store.recompute_associations(self.touched)
        self.store.set_meta(AW_DIRTY, "0")
        self._time("associations_aggregate", t)
        return self.seconds

    def abort(self) -> None:
        """Stop without the final aggregation (the dirty flag stays for the next run)."""
        if self.bulk is not None:
            self.bulk.defer_checkpoints(None)

    def _time(self, step: str, since: float) -> None:
        self.seconds[step] = self.seconds.get(step, 0.0) + time.perf_counter() - since


class ShardSink:
    """Each finished shard's outcome as Parquet files under ``root`` (then its marker)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.seconds: dict[str, float] = {}

    def put(self, outcome: Outcome, part: int = 0) -> None:
        t = time.perf_counter()
        batch = batch_of(outcome.entries, outcome.failures)
        counts: dict[str, Any] = {
            "images": len(outcome.entries),
            "failures": len(outcome.failures),
            "at": utcnow().isoformat(),
        }
        S.write_shard(self.root, part, batch, counts)
        self.seconds["write_shards"] = self.seconds.get("write_shards", 0.0)
        self.seconds["write_shards"] += time.perf_counter() - t

    def close(self) -> dict[str, float]:
        return self.seconds
