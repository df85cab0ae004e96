"""The per-batch work of ingestion, shared by every engine.

decode -> plan -> extract -> mine (-> canonicalize, ground) -> entries and
failures. No store I/O happens here: the caller passes what the store knows
(stored records and stage keys, and a look-up of stored elements for images
whose associations alone are stale). The single-process
:class:`~evokegraph.ingest.runner.Ingestor` and the Ray Data stages
(:mod:`evokegraph.ingest.ray_engine`) both call this one implementation.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from evokegraph.digests import settings_digest
from evokegraph.errors import ImageError
from evokegraph.images import DecodeOptions
from evokegraph.ingest.images import load_image
from evokegraph.ingest.sources import SourceItem
from evokegraph.ingest.stages import (
    AssociationMiner,
    ElementExtractor,
    Extraction,
    ImageItem,
    MiningInput,
    make_extractor,
    make_miner,
)
from evokegraph.lexicons.concreteness import norms
from evokegraph.records import Element, Evocation, Failure, ImageEntry, ImageRecord, unite
from evokegraph.runs import Failed
from evokegraph.stage_keys import STAGE_ASSOCIATIONS, STAGE_ELEMENTS
from evokegraph.weights import finalize

if TYPE_CHECKING:
    from evokegraph.ingest.config import IngestConfig

Stored = dict[str, tuple[ImageRecord, dict[str, str]]]
# image id -> (description, elements) stored for it, or None
StoredElements = Callable[[str], tuple[str, list[Element]] | None]


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

    COUNTS = ("seen", "new", "skipped", "failed", "elements", "associations")

    def add_time(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    def merge(self, other: Summary) -> None:
        """Add another summary's counts and times (workers' partial summaries)."""
        for k in self.COUNTS:
            setattr(self, k, getattr(self, k) + getattr(other, k))
        self.failures_by_stage.update(other.failures_by_stage)
        for stage, s in other.seconds.items():
            self.add_time(stage, s)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": self.run_id,
            **{k: getattr(self, k) for k in self.COUNTS},
            "failures_by_stage": dict(sorted(self.failures_by_stage.items())),
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }


def settings_key(name: str, settings: dict[str, Any], *parts: str) -> str:
    """A short digest of a stage's (or a job's) settings and inputs."""
    return settings_digest({"name": name, "settings": settings, "parts": parts})


def image_stage_key(stage_key: str, captions: Sequence[str], description: str = "") -> str:
    """The per-image key: settings plus the captions (and source description) the stage saw."""
    extra = (f"description={description}",) if description else ()
    return settings_key("image", {}, stage_key, *sorted(captions), *extra)


def ratings(entries: Sequence[ImageEntry]) -> dict[str, float]:
    """Brysbaert concreteness of the entries' concepts, where rated (stored on Concept).

    Concepts are lemmas already, so this is a plain look-up in the norms (no
    WordNet lemma fallback on the write path)."""
    table = norms()
    words = {el.concept for e in entries for el in e.elements or ()}
    words |= {ev.concept for e in entries for ev in e.evocations or ()}
    return {w: table[w] for w in sorted(words) if w in table}


@dataclass
class Outcome:
    """What one batch produced."""

    entries: list[ImageEntry] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)  # element concepts whose associations changed
    replaced: bool = False  # stored work was replaced: old support must go (full recompute)


class BatchWork:
    """One extractor, one miner and the optional model stages, with their keys."""

    def __init__(
        self,
        config: IngestConfig,
        run_id: str,
        *,
        extractor: ElementExtractor | None = None,
        miner: AssociationMiner | None = None,
    ) -> None:
        self.config = config
        self.run_id = run_id
        self.extractor = extractor or make_extractor(config.extractor, **config.extractor_options)
        self.miner = miner or make_miner(config.miner, **config.miner_options)
        self.grounder, self.canonicalizer = model_stages(config)
        extra = (
            f"ground={config.ground}:{config.ground_pretrained}",
            f"canon={config.canonicalize}@{config.canonical_threshold}",
        )
        self.element_key = settings_key(self.extractor.name, self.extractor.settings())
        self.assoc_key = settings_key(
            self.miner.name, self.miner.settings(), self.element_key, *extra
        )
        self.decode_options = DecodeOptions(max_pixels=config.max_pixels)

    # -- decode ---------------------------------------------------------------
    def decode(
        self, batch: Sequence[SourceItem], s: Summary, failures: list[Failure]
    ) -> list[ImageItem]:
        """Read, hash, decode and validate; the same picture twice in one batch is one image."""
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
                    options=self.decode_options,
                    description=src.description,
                )
            except ImageError as exc:
                failures.append(self.failure(s, "decode", str(exc), uri=src.uri, origin=src.origin))
                continue
            old = loaded.get(item.record.id)
            if old is not None:
                old.record.uris = unite(old.record.uris, item.record.uris)
                old.record.captions = unite(old.record.captions, item.record.captions)
                continue
            loaded[item.record.id] = item
        s.add_time("decode", time.perf_counter() - t)
        return list(loaded.values())

    # -- plan, extract, mine ----------------------------------------------------
    def process(
        self,
        items: list[ImageItem],
        stored: Stored,
        s: Summary,
        failures: list[Failure],
        stored_elements: StoredElements | None = None,
    ) -> Outcome:
        """Everything after decoding, for one batch of decoded images."""
        out = Outcome(failures=failures)
        s.new += sum(it.record.id not in stored for it in items)
        entries, need_el, need_assoc, out.replaced = self.plan(items, stored, s)
        extractions = self.extract(need_el, s, failures)
        stale = self._stale_inputs(need_assoc, stored_elements)
        keep = {i for i, (_, keys) in stored.items() if STAGE_ELEMENTS in keys}
        out.touched = self.mine(need_el, stale, extractions, entries, s, failures, keep)
        out.entries = list(entries.values())
        return out

    def plan(
        self, items: list[ImageItem], stored: Stored, s: Summary
    ) -> tuple[dict[str, ImageEntry], list[ImageItem], list[ImageItem], bool]:
        entries: dict[str, ImageEntry] = {}
        need_el: list[ImageItem] = []
        need_assoc: list[ImageItem] = []
        replaced = False
        for it in items:
            old, keys = stored.get(it.record.id, (None, {}))
            if old is not None:  # known picture: its known captions count too
                it.record.captions = unite(old.captions, it.record.captions)
            # record.description stays the source's own (or empty): it wins over the
            # extractor's in mine(); an empty one leaves the stored description as it is
            captions = it.record.captions
            el_key = image_stage_key(self.element_key, captions)
            as_key = image_stage_key(self.assoc_key, captions, it.record.description)
            entries[it.record.id] = ImageEntry(image=it.record)
            if self.config.force or keys.get(STAGE_ELEMENTS) != el_key:
                need_el.append(it)
            elif keys.get(STAGE_ASSOCIATIONS) != as_key:
                need_assoc.append(it)
            else:
                s.skipped += 1
                continue
            if keys:  # stored work is about to be replaced: old support must go
                replaced = True
        return entries, need_el, need_assoc, replaced

    def extract(
        self, items: list[ImageItem], s: Summary, failures: list[Failure]
    ) -> dict[str, Extraction]:
        if not items:
            return {}
        t = time.perf_counter()
        answers = self.extractor.extract(items)
        s.add_time("elements", time.perf_counter() - t)
        out: dict[str, Extraction] = {}
        for it, ans in zip(items, answers, strict=True):
            if isinstance(ans, Failed):
                failures.append(self.failure(s, "elements", ans.reason, it=it, raw=ans.raw))
            else:
                out[it.record.id] = ans
        return out

    @staticmethod
    def _stale_inputs(
        items: list[ImageItem], stored_elements: StoredElements | None
    ) -> list[MiningInput]:
        """Images whose elements are stored but whose associations are out of date."""
        out = []
        for it in items:
            found = stored_elements(it.record.id) if stored_elements else None
            if found is not None and found[1]:
                out.append(MiningInput(item=it, description=found[0], elements=found[1]))
        return out

    def mine(
        self,
        fresh: list[ImageItem],
        stale: list[MiningInput],
        extractions: dict[str, Extraction],
        entries: dict[str, ImageEntry],
        s: Summary,
        failures: list[Failure],
        keep: frozenset[str] | set[str] = frozenset(),
    ) -> set[str]:
        """Mine associations; returns the element concepts whose associations changed.

        An image in ``keep`` has stored work: if its mining fails, its new
        elements are not written either, so that what is stored (elements and
        associations) stays whole until a later run replaces both."""
        inputs: list[MiningInput] = []
        prior: dict[str, str] = {}  # the source's descriptions (empty: none given)
        for it in fresh:
            ex = extractions.get(it.record.id)
            if ex is None:
                continue
            entry = entries[it.record.id]
            prior[it.record.id] = it.record.description
            # a description given with the source wins over the extractor's
            it.record.description = it.record.description or ex.description
            entry.elements = ex.elements
            entry.stage_keys[STAGE_ELEMENTS] = image_stage_key(self.element_key, it.record.captions)
            s.elements += len(ex.elements)
            inputs.append(
                MiningInput(item=it, description=it.record.description, elements=ex.elements)
            )
        inputs += stale
        touched: set[str] = set()
        if not inputs:
            return touched
        t = time.perf_counter()
        answers = self.miner.mine(inputs)
        s.add_time("associations", time.perf_counter() - t)
        answers = self.refine(inputs, answers, s)
        for inp, ans in zip(inputs, answers, strict=True):
            entry = entries[inp.item.record.id]
            if isinstance(ans, Failed):
                failures.append(
                    self.failure(s, "associations", ans.reason, it=inp.item, raw=ans.raw)
                )
                if inp.item.record.id in keep:
                    self._keep_stored(entry, s, prior.get(inp.item.record.id))
                continue
            entry.evocations = self.valid(ans, inp.elements)
            touched |= {e.concept for e in inp.elements}
            entry.stage_keys[STAGE_ASSOCIATIONS] = image_stage_key(
                self.assoc_key, inp.item.record.captions, prior.get(inp.item.record.id, "")
            )
            s.associations += len(entry.evocations)
        return touched

    @staticmethod
    def _keep_stored(entry: ImageEntry, s: Summary, description: str | None) -> None:
        if description is not None:
            entry.image.description = description
        if entry.elements is not None:
            s.elements -= len(entry.elements)
        entry.elements = None
        entry.evocations = None
        entry.stage_keys.pop(STAGE_ELEMENTS, None)
        entry.stage_keys.pop(STAGE_ASSOCIATIONS, None)

    def refine(
        self, inputs: list[MiningInput], answers: list[list[Evocation] | Failed], s: Summary
    ) -> list[list[Evocation] | Failed]:
        """Optional model stages: merge near-duplicate concepts, ground weights in the image."""
        if self.canonicalizer is not None:
            answers = [a if isinstance(a, Failed) else self.canonicalizer.apply(a) for a in answers]
        if self.grounder is not None:
            t = time.perf_counter()
            ok = [(i, a) for i, a in zip(inputs, answers, strict=True) if not isinstance(a, Failed)]
            self.grounder.ground([i for i, _ in ok], [a for _, a in ok])
            s.add_time("grounding", time.perf_counter() - t)
        return answers

    def valid(self, evocations: list[Evocation], elements: list[Element]) -> list[Evocation]:
        """The evocations of known elements, finalized: the one place weights are computed."""
        known = {e.concept for e in elements}
        return finalize(
            (ev for ev in evocations if ev.element in known and ev.concept != ev.element),
            run=self.run_id,
        )

    def failure(
        self,
        s: Summary,
        stage: str,
        reason: str,
        *,
        it: ImageItem | None = None,
        uri: str = "",
        origin: str = "",
        raw: str = "",
    ) -> Failure:
        s.failed += 1
        s.failures_by_stage[stage] += 1
        where = f" ({origin})" if origin and origin != uri else ""
        return Failure(
            image_id=it.record.id if it else "",
            uri=(it.record.uris[0] if it and it.record.uris else uri),
            stage=stage,
            reason=reason + where,
            raw=raw,
            run=self.run_id,
        )


def model_stages(config: IngestConfig) -> tuple[Any, Any]:
    grounder = canonicalizer = None
    if config.ground:
        from evokegraph.ingest.models.grounding import ClipGrounder

        grounder = ClipGrounder(config.ground, config.ground_pretrained)
    if config.canonicalize:
        from evokegraph.ingest.models.grounding import Canonicalizer

        canonicalizer = Canonicalizer(config.canonicalize, config.canonical_threshold)
    return grounder, canonicalizer
