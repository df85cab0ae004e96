"""The ingestion runner: sources -> decode -> elements -> associations -> store.

Images stream through in batches (model stages see whole batches; each batch
is one store write). Resumable per image and per stage: every stored image
carries a key per stage (a hash of the backend's settings and the image's
captions); a rerun skips images whose keys match and ``force`` redoes them.
Each batch is written atomically and writes *replace* an image's elements and
associations, so a run killed at any moment and run again ends with the graph
an uninterrupted run gives. A bad image or a bad model answer becomes a
recorded :class:`~evokegraph.records.Failure`; the run goes on.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from evokegraph.graph.schema import AW_DIRTY
from evokegraph.graph.store import GraphStore
from evokegraph.ingest.batchwork import (  # noqa: F401 - re-exported names
    BatchWork,
    Summary,
    image_stage_key,
    ratings,
    settings_key,
)
from evokegraph.ingest.config import IngestConfig  # noqa: F401 - re-exported
from evokegraph.ingest.sources import SourceItem, iter_sources
from evokegraph.ingest.stages import AssociationMiner, ElementExtractor
from evokegraph.records import Element, Failure, GraphBatch, ImageEntry, RunRecord, utcnow
from evokegraph.runs import Progress
from evokegraph.version import __version__

# Big transactions (flush_every >= BIG_FLUSH images) checkpoint the embedded
# store at most every CHECKPOINT_EVERY_S seconds instead of after each commit
# (see LadybugStore.defer_checkpoints); small ones keep the engine's default.
BIG_FLUSH = 512
CHECKPOINT_EVERY_S = 30.0


def _batches(
    items: Iterable[SourceItem], size: int, limit: int | None
) -> Iterator[list[SourceItem]]:
    batch: list[SourceItem] = []
    for n, item in enumerate(items):
        if limit is not None and n >= limit:
            break
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class Ingestor:
    """Runs one ingestion over a store with one extractor and one miner."""

    def __init__(
        self,
        store: GraphStore,
        config: IngestConfig,
        *,
        extractor: ElementExtractor | None = None,
        miner: AssociationMiner | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.progress = progress or Progress()
        self.summary = Summary(run_id=new_run_id())
        self.work = BatchWork(config, self.summary.run_id, extractor=extractor, miner=miner)
        self.extractor, self.miner = self.work.extractor, self.work.miner
        self.element_key, self.assoc_key = self.work.element_key, self.work.assoc_key
        self._pending: list[ImageEntry] = []
        self._pending_failures: list[Failure] = []
        self._touched: set[str] = set()  # element concepts whose associations changed
        self._full_recompute = False

    # -- the run ----------------------------------------------------------------
    def run(self, sources: Sequence[Path]) -> Summary:
        cfg = self.config
        run = self._run_record()
        items = iter_sources(sources, captions=cfg.captions, image_root=cfg.image_root)
        if not cfg.dry_run:
            self.store.record_run(run)
            # A run killed before its final aggregation leaves this at "1": the
            # next run then recomputes ASSOCIATED_WITH in full.
            self._full_recompute = self.store.get_meta(AW_DIRTY) == "1"
            self.store.set_meta(AW_DIRTY, "1")
        defer = getattr(self.store, "defer_checkpoints", None)
        if defer is not None and not cfg.dry_run and cfg.flush_every >= BIG_FLUSH:
            defer(CHECKPOINT_EVERY_S)
        try:
            for batch in _batches(items, cfg.batch_size, cfg.limit):
                self._batch(batch)
                if len(self._pending) >= cfg.flush_every:
                    self._flush()
            self._flush()
        finally:
            if defer is not None and not cfg.dry_run and cfg.flush_every >= BIG_FLUSH:
                defer(None)
        if not cfg.dry_run:
            t = time.perf_counter()
            if self._full_recompute:
                self.store.recompute_associations(None)
            elif self._touched:
                self.store.recompute_associations(self._touched)
            self.store.set_meta(AW_DIRTY, "0")
            self.summary.add_time("associations_aggregate", time.perf_counter() - t)
            run.finished = utcnow()
            run.status = "done"
            run.counts = {
                k: float(v) for k, v in self.summary.as_dict().items() if isinstance(v, int)
            }
            run.counts.update(model_usage(self.work))
            run.timings = dict(self.summary.seconds)
            self.store.record_run(run)
        return self.summary

    def _run_record(self) -> RunRecord:
        return run_record(self.work, self.summary.run_id)

    # -- one batch ----------------------------------------------------------------
    def _batch(self, batch: list[SourceItem]) -> None:
        s, work = self.summary, self.work
        failures: list[Failure] = []
        items = work.decode(batch, s, failures)
        self.progress.advance("decode", len(batch))
        if self.config.dry_run:
            return
        stored = self.store.image_records([it.record.id for it in items])
        out = work.process(items, stored, s, failures, self._stored_elements)
        self.progress.advance("elements", len(items))
        self.progress.advance("associations", len(out.entries))
        self._touched |= out.touched
        self._full_recompute |= out.replaced
        self._pending += out.entries
        self._pending_failures += out.failures

    def _stored_elements(self, image_id: str) -> tuple[str, list[Element]] | None:
        view = self.store.get_image(image_id)
        return None if view is None else (view.image.description, view.elements)

    def _flush(self) -> None:
        if self.config.dry_run or not (self._pending or self._pending_failures):
            return
        t = time.perf_counter()
        batch = GraphBatch(
            images=self._pending, failures=self._pending_failures, concepts=ratings(self._pending)
        )
        self.store.write(batch)
        self.summary.add_time("write", time.perf_counter() - t)
        self.progress.advance("write", len(self._pending))
        self._pending, self._pending_failures = [], []


def new_run_id(command: str = "ingest") -> str:
    return f"{command}-{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def run_record(work: BatchWork, run_id: str, **extra: Any) -> RunRecord:
    cfg = work.config
    return RunRecord(
        id=run_id,
        command="ingest",
        config={
            "extractor": work.extractor.name,
            "extractor_settings": work.extractor.settings(),
            "miner": work.miner.name,
            "miner_settings": work.miner.settings(),
            "batch_size": cfg.batch_size,
            "force": cfg.force,
            "limit": cfg.limit,
            "max_pixels": cfg.max_pixels,
            **extra,
        },
        versions=_versions(),
    )


def model_usage(work: BatchWork) -> dict[str, float]:
    """Tokens and cost of model backends, as run counts."""
    out: dict[str, float] = {}
    for stage, backend in (("elements", work.extractor), ("associations", work.miner)):
        engine = getattr(backend, "engine", None)
        for k, v in {**getattr(engine, "usage", {}), **getattr(backend, "usage", {})}.items():
            out[f"{stage}_{k}"] = float(v)
    return out


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"evokegraph": __version__}
    for pkg in ("ladybug", "neo4j", "pillow", "nltk"):
        with contextlib.suppress(PackageNotFoundError):
            out[pkg] = version(pkg)
    return out


def ingest(
    store: GraphStore, sources: Sequence[Path], config: IngestConfig | None = None, **kw: Any
) -> Summary:
    """Library entry point: ingest ``sources`` into ``store``."""
    return Ingestor(store, config or IngestConfig(), **kw).run(sources)
