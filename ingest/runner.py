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
import hashlib
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evokegraph import __version__
from evokegraph.errors import ImageError
from evokegraph.graph.common import STAGE_ASSOCIATIONS, STAGE_ELEMENTS
from evokegraph.graph.store import GraphStore
from evokegraph.ingest.concreteness import norms
from evokegraph.ingest.images import DEFAULT_MAX_PIXELS, DecodeOptions, load_image
from evokegraph.ingest.sources import SourceItem, iter_sources
from evokegraph.ingest.stages import (
    AssociationMiner,
    ElementExtractor,
    Extraction,
    Failed,
    ImageItem,
    MiningInput,
    make_extractor,
    make_miner,
)
from evokegraph.records import (
    Element,
    Evocation,
    Failure,
    GraphBatch,
    ImageEntry,
    ImageRecord,
    RunRecord,
    utcnow,
)

AW_DIRTY = "associations_dirty"  # Meta key: ASSOCIATED_WITH needs a full recompute


@dataclass
class IngestConfig:
    extractor: str = "caption-text"
    miner: str = "lexical"
    extractor_options: dict[str, Any] = field(default_factory=dict)
    miner_options: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 32
    # Images per store transaction. LadybugDB pays a fixed cost per commit that
    # grows with the graph (rel-table rewrites), so several model batches are
    # written together; a crash loses at most this many images' work.
    flush_every: int = 2048
    limit: int | None = None
    force: bool = False
    dry_run: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS
    captions: Path | None = None
    image_root: Path | None = None
    ground: str | None = None  # open_clip model for grounding weights, e.g. ViT-B-32
    ground_pretrained: str | None = None
    canonicalize: str | None = None  # sentence-transformers model for near-duplicate concepts
    canonical_threshold: float = 0.9


@dataclass
class Summary:
    run_id: str
    seen: int = 0
    new: int = 0
    skipped: int = 0
    failed: int = 0
    elements: int = 0
    associations: int = 0
    failures_by_stage: Counter[str] = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)

    def add_time(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": self.run_id,
            "seen": self.seen,
            "new": self.new,
            "skipped": self.skipped,
            "failed": self.failed,
            "elements": self.elements,
            "associations": self.associations,
            "failures_by_stage": dict(self.failures_by_stage),
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }


def settings_key(name: str, settings: dict[str, Any], *parts: str) -> str:
    blob = json.dumps(
        {"name": name, "settings": settings, "parts": parts}, sort_keys=True, default=str
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def image_stage_key(stage_key: str, captions: Sequence[str]) -> str:
    """The per-image key: settings plus the captions the stage saw."""
    return settings_key("image", {}, stage_key, *sorted(captions))


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


class Progress:
    """A tiny sink for progress events; the CLI plugs rich in, tests nothing."""

    def advance(self, stage: str, n: int) -> None:  # pragma: no cover - trivial
        pass


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
        self.extractor = extractor or make_extractor(config.extractor, **config.extractor_options)
        self.miner = miner or make_miner(config.miner, **config.miner_options)
        self.progress = progress or Progress()
        self.grounder, self.canonicalizer = _model_stages(config)
        extra = (
            f"ground={config.ground}:{config.ground_pretrained}",
            f"canon={config.canonicalize}@{config.canonical_threshold}",
        )
        self.element_key = settings_key(self.extractor.name, self.extractor.settings())
        self.assoc_key = settings_key(
            self.miner.name, self.miner.settings(), self.element_key, *extra
        )
        self.summary = Summary(run_id=f"ingest-{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}")
        self.decode = DecodeOptions(max_pixels=config.max_pixels)
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
        for batch in _batches(items, cfg.batch_size, cfg.limit):
            self._batch(batch)
            if len(self._pending) >= cfg.flush_every:
                self._flush()
        self._flush()
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
            for stage, backend in (("elements", self.extractor), ("associations", self.miner)):
                engine = getattr(backend, "engine", None)  # tokens and cost of model backends
                for k, v in {
                    **getattr(engine, "usage", {}),
                    **getattr(backend, "usage", {}),
                }.items():
                    run.counts[f"{stage}_{k}"] = float(v)
            run.timings = dict(self.summary.seconds)
            self.store.record_run(run)
        return self.summary

    def _run_record(self) -> RunRecord:
        cfg = self.config
        return RunRecord(
            id=self.summary.run_id,
            command="ingest",
            config={
                "extractor": self.extractor.name,
                "extractor_settings": self.extractor.settings(),
                "miner": self.miner.name,
                "miner_settings": self.miner.settings(),
                "batch_size": cfg.batch_size,
                "force": cfg.force,
                "limit": cfg.limit,
                "max_pixels": cfg.max_pixels,
            },
            versions=_versions(),
        )

    # -- one batch ----------------------------------------------------------------
    def _batch(self, batch: list[SourceItem]) -> None:
        s = self.summary
        failures: list[Failure] = []
        t = time.perf_counter()
        loaded: dict[str, ImageItem] = {}
        for src in batch:
            s.seen += 1
            try:
                item = load_image(
                    src.path,
                    uri=src.uri,
                    captions=src.captions,
                    split=src.split,
                    options=self.decode,
                )
            except ImageError as exc:
                failures.append(self._failure("decode", str(exc), uri=src.uri, origin=src.origin))
                continue
            old = loaded.get(item.record.id)
            if old is not None:  # the same picture twice in one batch: one image
                old.record.uris = list(dict.fromkeys([*old.record.uris, *item.record.uris]))
                old.record.captions = list(
                    dict.fromkeys([*old.record.captions, *item.record.captions])
                )
                continue
            loaded[item.record.id] = item
        s.add_time("decode", time.perf_counter() - t)
        self.progress.advance("decode", len(batch))
        items = list(loaded.values())
        if self.config.dry_run:
            return
        stored = self.store.image_records([it.record.id for it in items])
        s.new += sum(it.record.id not in stored for it in items)
        entries, need_el, need_assoc = self._plan(items, stored)
        extractions = self._extract(need_el, failures)
        self._mine(need_el, need_assoc, extractions, entries, failures)
        self._pending += entries.values()
        self._pending_failures += failures

    def _flush(self) -> None:
        if self.config.dry_run or not (self._pending or self._pending_failures):
            return
        t = time.perf_counter()
        batch = GraphBatch(
            images=self._pending, failures=self._pending_failures, concepts=_ratings(self._pending)
        )
        self.store.write(batch)
        self.summary.add_time("write", time.perf_counter() - t)
        self.progress.advance("write", len(self._pending))
        self._pending, self._pending_failures = [], []

    def _plan(
        self, items: list[ImageItem], stored: dict[str, tuple[ImageRecord, dict[str, str]]]
    ) -> tuple[dict[str, ImageEntry], list[ImageItem], list[ImageItem]]:
        entries: dict[str, ImageEntry] = {}
        need_el: list[ImageItem] = []
        need_assoc: list[ImageItem] = []
        for it in items:
            old, keys = stored.get(it.record.id, (None, {}))
            if old is not None:  # known picture: what we knew of it counts too
                it.record.captions = list(dict.fromkeys([*old.captions, *it.record.captions]))
                it.record.description = it.record.description or old.description
            captions = it.record.captions
            el_key = image_stage_key(self.element_key, captions)
            as_key = image_stage_key(self.assoc_key, captions)
            entries[it.record.id] = ImageEntry(image=it.record)
            if self.config.force or keys.get(STAGE_ELEMENTS) != el_key:
                need_el.append(it)
            elif keys.get(STAGE_ASSOCIATIONS) != as_key:
                need_assoc.append(it)
            else:
                self.summary.skipped += 1
                continue
            if keys:  # stored work is about to be replaced: old support must go
                self._full_recompute = True
        return entries, need_el, need_assoc

    def _extract(self, items: list[ImageItem], failures: list[Failure]) -> dict[str, Extraction]:
        if not items:
            return {}
        t = time.perf_counter()
        answers = self.extractor.extract(items)
        self.summary.add_time("elements", time.perf_counter() - t)
        self.progress.advance("elements", len(items))
        out: dict[str, Extraction] = {}
        for it, ans in zip(items, answers, strict=True):
            if isinstance(ans, Failed):
                failures.append(self._failure("elements", ans.reason, it=it, raw=ans.raw))
            else:
                out[it.record.id] = ans
        return out

    def _mine(
        self,
        fresh: list[ImageItem],
        stale: list[ImageItem],
        extractions: dict[str, Extraction],
        entries: dict[str, ImageEntry],
        failures: list[Failure],
    ) -> None:
        inputs: list[MiningInput] = []
        for it in fresh:
            ex = extractions.get(it.record.id)
            if ex is None:
                continue
            entry = entries[it.record.id]
            it.record.description = ex.description
            entry.elements = ex.elements
            entry.stage_keys[STAGE_ELEMENTS] = image_stage_key(self.element_key, it.record.captions)
            self.summary.elements += len(ex.elements)
            inputs.append(MiningInput(item=it, description=ex.description, elements=ex.elements))
        for it in stale:  # elements stored, associations out of date
            view = self.store.get_image(it.record.id)
            if view is not None and view.elements:
                inputs.append(
                    MiningInput(item=it, description=view.image.description, elements=view.elements)
                )
        if not inputs:
            return
        t = time.perf_counter()
        answers = self.miner.mine(inputs)
        self.summary.add_time("associations", time.perf_counter() - t)
        self.progress.advance("associations", len(inputs))
        answers = self._refine(inputs, answers)
        for inp, ans in zip(inputs, answers, strict=True):
            if isinstance(ans, Failed):
                failures.append(self._failure("associations", ans.reason, it=inp.item, raw=ans.raw))
                continue
            entry = entries[inp.item.record.id]
            entry.evocations = self._valid(ans, inp.elements)
            self._touched |= {e.concept for e in inp.elements}
            entry.stage_keys[STAGE_ASSOCIATIONS] = image_stage_key(
                self.assoc_key, inp.item.record.captions
            )
            self.summary.associations += len(entry.evocations)

    def _refine(
        self, inputs: list[MiningInput], answers: list[list[Evocation] | Failed]
    ) -> list[list[Evocation] | Failed]:
        """Optional model stages: merge near-duplicate concepts, ground weights in the image."""
        if self.canonicalizer is not None:
            answers = [a if isinstance(a, Failed) else self.canonicalizer.apply(a) for a in answers]
        if self.grounder is not None:
            t = time.perf_counter()
            ok = [(i, a) for i, a in zip(inputs, answers, strict=True) if not isinstance(a, Failed)]
            self.grounder.ground([i for i, _ in ok], [a for _, a in ok])
            self.summary.add_time("grounding", time.perf_counter() - t)
        return answers

    def _valid(self, evocations: list[Evocation], elements: list[Element]) -> list[Evocation]:
        known = {e.concept for e in elements}
        return [
            ev.model_copy(update={"run": self.summary.run_id})
            for ev in evocations
            if ev.element in known and ev.concept != ev.element
        ]

    def _failure(
        self,
        stage: str,
        reason: str,
        *,
        it: ImageItem | None = None,
        uri: str = "",
        origin: str = "",
        raw: str = "",
    ) -> Failure:
        self.summary.failed += 1
        self.summary.failures_by_stage[stage] += 1
        where = f" ({origin})" if origin and origin != uri else ""
        return Failure(
            image_id=it.record.id if it else "",
            uri=(it.record.uris[0] if it and it.record.uris else uri),
            stage=stage,
            reason=reason + where,
            raw=raw,
            run=self.summary.run_id,
        )


def _model_stages(config: IngestConfig) -> tuple[Any, Any]:
    grounder = canonicalizer = None
    if config.ground:
        from evokegraph.ingest.models.grounding import ClipGrounder

        grounder = ClipGrounder(config.ground, config.ground_pretrained)
    if config.canonicalize:
        from evokegraph.ingest.models.grounding import Canonicalizer

        canonicalizer = Canonicalizer(config.canonicalize, config.canonical_threshold)
    return grounder, canonicalizer


def _ratings(entries: Sequence[ImageEntry]) -> dict[str, float]:
    """Brysbaert concreteness of the batch's concepts, where rated (stored on Concept).

    Concepts are lemmas already, so this is a plain look-up in the norms (no
    WordNet lemma fallback on the write path)."""
    table = norms()
    words = {el.concept for e in entries for el in e.elements or ()}
    words |= {ev.concept for e in entries for ev in e.evocations or ()}
    return {w: table[w] for w in words if w in table}


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
