"""The local executor: sources -> decode -> extract -> mine -> store, in one process.

It only schedules the steps of :mod:`evokegraph.ingest.batchwork` (the same
ones the Ray executor runs) over batches of ``batch_size`` source items, looks
up what the store holds per batch (:func:`evokegraph.ingest.known.look_up`),
and puts each batch's outcome into a :class:`~evokegraph.ingest.sinks.StoreSink`.

Resumable per image and per stage: every stored image carries a key per stage
(a hash of the backend's settings and the image's captions); a rerun skips
images whose keys match and ``force`` redoes them. Writes *replace* an image's
elements and associations, so a run killed at any moment and run again ends
with the graph an uninterrupted run gives. A bad image or a bad model answer
becomes a recorded :class:`~evokegraph.records.Failure`; the run goes on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from evokegraph.graph.store import GraphStore
from evokegraph.ingest.batchwork import (  # noqa: F401 - re-exported names
    BatchWork,
    Executor,
    Summary,
    image_stage_key,
    ratings,
    settings_key,
)
from evokegraph.ingest.config import IngestConfig  # noqa: F401 - re-exported
from evokegraph.ingest.known import Probe, look_up
from evokegraph.ingest.sinks import StoreSink
from evokegraph.ingest.sources import SourceItem, iter_sources
from evokegraph.ingest.stages import BY_NAME, AssociationMiner, Backends, ElementExtractor
from evokegraph.records import RunRecord, utcnow
from evokegraph.runs import RunContext
from evokegraph.version import __version__


def batches(
    items: Iterable[SourceItem], size: int, limit: int | None
) -> Iterator[list[SourceItem]]:
    """Source items in lists of ``size``, the first ``limit`` only."""
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


class Ingestor(Executor):
    """Runs one ingestion over a store with one extractor and one miner (``config``:
    the default settings where None)."""

    def __init__(
        self,
        store: GraphStore,
        config: IngestConfig | None = None,
        given: Backends = BY_NAME,
        context: RunContext | None = None,
    ) -> None:
        super().__init__(config or IngestConfig(), given, context)
        self.store = store
        self.summary = Summary(run_id=self.context.run_id)

    def run(self, sources: Sequence[Path]) -> Summary:
        cfg, progress = self.config, self.context.progress
        items = iter_sources(sources, captions=cfg.captions, image_root=cfg.image_root)
        if cfg.dry_run:
            for batch in batches(items, cfg.batch_size, cfg.limit):
                self.summary.merge(self.work.decode(batch).summary)
                progress.advance("decode", len(batch))
            return self.summary
        self.work.load(progress)
        run = run_record(self.work, self.summary.run_id)
        self.store.record_run(run)
        sink = StoreSink(self.store, cfg.flush_every, progress)
        try:
            for batch in batches(items, cfg.batch_size, cfg.limit):
                self._batch(batch, sink)
        except BaseException:
            sink.abort()
            raise
        for step, seconds in sink.close().items():
            self.summary.add_time(step, seconds)
        self.store.record_run(finished(run, self.summary, self.work))
        return self.summary

    def _batch(self, batch: list[SourceItem], sink: StoreSink) -> None:
        s, work, progress = self.summary, self.work, self.context.progress
        decoded = work.decode(batch)
        progress.advance("decode", len(batch))
        probes = [
            Probe(it.record.id, it.record.captions, it.record.description) for it in decoded.items
        ]
        extracted = work.extract(decoded.items, look_up(self.store, probes, work))
        progress.advance("elements", len(decoded.items))
        out = work.mine(extracted.works, {it.record.id: it for it in decoded.items})
        progress.advance("associations", len(out.entries))
        out.failures = decoded.failures + out.failures
        s.merge(decoded.summary).merge(extracted.summary).merge(out.summary)
        sink.put(out)


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


def finished(run: RunRecord, summary: Summary, work: BatchWork) -> RunRecord:
    """The run record once the run is done: counts, model usage, times."""
    counts = {k: float(v) for k, v in summary.as_dict().items() if isinstance(v, int)}
    return run.model_copy(
        update={
            "finished": utcnow(),
            "status": "done",
            "counts": {**counts, **model_usage(work)},
            "timings": dict(summary.seconds),
        }
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
    store: GraphStore,
    sources: Sequence[Path],
    config: IngestConfig | None = None,
    *,
    extractor: ElementExtractor | None = None,
    miner: AssociationMiner | None = None,
    context: RunContext | None = None,
) -> Summary:
    """Library entry point: ingest ``sources`` into ``store`` in this process (with
    these backend objects, when given, instead of the ones ``config`` names)."""
    given = Backends(extractor, miner)
    return Ingestor(store, config, given, context).run(sources)
