"""The steps of ingestion, shared by both executors; each takes and returns values.

::

    decode(source items)                 -> Decoded   (images, decode failures)
    extract(images, what is stored)      -> Extracted (one Work per image: planned,
                                                       elements extracted)
    mine(works)                          -> Outcome   (entries to write, failures,
                                                       concepts touched)

``extract`` is ``plan`` (skip what is current, merge known captions, decide per
image which stage to compute) then ``extract_works`` (the extractor on the
images to extract). A :class:`Work` is one image on its way, a pydantic record:
the Ray executor sends it between its stages as JSON, the local executor
keeps it in memory. Every step returns its own :class:`Summary` (counts and
seconds); the executors add them up. No store I/O happens here: what the
store holds comes in as :class:`StoredImage` values
(:func:`evokegraph.ingest.known.look_up`).

An image whose elements are current but whose associations are stale is
mined again from its stored elements (both executors); if none are stored,
its elements are extracted anew.
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from evokegraph.digests import settings_digest
from evokegraph.errors import ImageError
from evokegraph.images import DecodeOptions
from evokegraph.ingest.images import load_image
from evokegraph.ingest.sources import SourceItem
from evokegraph.ingest.stages import (
    BY_NAME,
    Backends,
    ImageItem,
    Loads,
    MiningInput,
    make_extractor,
    make_miner,
)
from evokegraph.levels import COVERAGE_MIN_WORDS, covered
from evokegraph.lexicons.concreteness import norms
from evokegraph.records import (
    Element,
    Evocation,
    Failure,
    ImageEntry,
    ImageRecord,
    Record,
    unite,
)
from evokegraph.runs import Failed, Progress, RunContext
from evokegraph.stage_keys import STAGE_ASSOCIATIONS, STAGE_ELEMENTS
from evokegraph.weights import finalize

if TYPE_CHECKING:
    from evokegraph.ingest.config import IngestConfig


@dataclass
class ShardRun:
    """The Ray executor's part of a run: its shards folder, how many shards it has
    and computed in this run, and the report of their load (a ``LoadReport``)."""

    root: Path
    total: int = 0
    run: int = 0
    load: Any = None


@dataclass
class Summary:
    run_id: str
    seen: int = 0
    new: int = 0
    skipped: int = 0
    failed: int = 0
    elements: int = 0
    associations: int = 0
    covered: int = 0  # elements with words at every distance (levels.covered)
    failures_by_stage: Counter[str] = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)
    shards: ShardRun | None = None  # engine="ray": the shards and their load
    # engine="ray": per step, when each actor had its models loaded (time.time(),
    # sent once, with the actor's first batch); the driver sees start-up from them
    ready: dict[str, list[float]] = field(default_factory=dict)

    COUNTS = ("seen", "new", "skipped", "failed", "elements", "associations", "covered")

    def add_time(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    def merge(self, other: Summary) -> Summary:
        """Add another summary's counts and times (a step's, a worker's); returns self."""
        for k in self.COUNTS:
            setattr(self, k, getattr(self, k) + getattr(other, k))
        self.failures_by_stage.update(other.failures_by_stage)
        for stage, s in other.seconds.items():
            self.add_time(stage, s)
        for step, times in other.ready.items():
            self.ready.setdefault(step, []).extend(times)
        return self

    def count_failures(self, failures: Iterable[Failure]) -> None:
        for f in failures:
            self.failed += 1
            self.failures_by_stage[f.stage] += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": self.run_id,
            **{k: getattr(self, k) for k in self.COUNTS},
            "failures_by_stage": dict(sorted(self.failures_by_stage.items())),
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }

    def to_json(self) -> dict[str, Any]:
        """Everything, unrounded (a worker's summary on its way to the driver)."""
        return {**self.as_dict(), "seconds": dict(self.seconds), "ready": self.ready}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Summary:
        s = cls(run_id=d["run"], **{k: d.get(k, 0) for k in cls.COUNTS})
        s.failures_by_stage.update(d["failures_by_stage"])
        s.seconds = dict(d["seconds"])
        s.ready = {k: list(v) for k, v in d.get("ready", {}).items()}
        return s


def covered_elements(elements: Sequence[Element], evocations: Sequence[Evocation]) -> int:
    """How many of ``elements`` the evocations cover (:func:`evokegraph.levels.covered`)."""
    counts: Counter[tuple[str, int]] = Counter((e.element, e.distance) for e in evocations)
    return sum(covered({d: counts[(el.concept, d)] for d in COVERAGE_MIN_WORDS}) for el in elements)


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


class StoredImage(Record):
    """What the store holds of one image: its record and stage keys, and, where its
    associations alone are stale, its stored description and elements."""

    record: ImageRecord
    keys: dict[str, str] = Field(default_factory=dict)
    description: str = ""
    elements: list[Element] | None = None


Known = Mapping[str, StoredImage]


class Work(Record):
    """One image on its way through the steps (the row the Ray stages pass on)."""

    entry: ImageEntry  # what gets written: the record, then elements, evocations, keys
    path: str = ""
    todo: str = ""  # "elements" (extract, then mine), "associations" (mine), "" (done)
    source_description: str = ""  # the source's own description ("" when none)
    context: str = ""  # the miner's description
    elements: list[Element] = Field(default_factory=list)  # to mine
    keep: bool = False  # stored elements exist: a failed mining leaves the stored work whole
    replaces: bool = False  # stored work is replaced: its old support must go
    failures: list[Failure] = Field(default_factory=list)

    @property
    def image_id(self) -> str:
        return self.entry.image.id


@dataclass
class Decoded:
    items: list[ImageItem]
    failures: list[Failure]
    summary: Summary


@dataclass
class Extracted:
    works: list[Work]
    summary: Summary


@dataclass
class Outcome:
    """What one batch produced: entries to write, failures, and the element concepts
    whose associations changed (``replaced``: stored work was replaced)."""

    entries: list[ImageEntry]
    failures: list[Failure]
    touched: set[str]
    replaced: bool
    summary: Summary


def outcome(works: Sequence[Work], touched: set[str], summary: Summary) -> Outcome:
    return Outcome(
        entries=[w.entry for w in works],
        failures=[f for w in works for f in w.failures],
        touched=touched,
        replaced=any(w.replaces for w in works),
        summary=summary,
    )


class BatchWork:
    """One extractor, one miner and the optional model stages, with their keys."""

    def __init__(self, config: IngestConfig, run_id: str, given: Backends = BY_NAME) -> None:
        self.config = config
        self.run_id = run_id
        self.extractor = given.extractor or make_extractor(
            config.extractor, **config.extractor_options
        )
        self.miner = given.miner or make_miner(config.miner, **config.miner_options)
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

    def load(
        self,
        progress: Progress | None = None,
        steps: Sequence[str] = (STAGE_ELEMENTS, STAGE_ASSOCIATIONS),
    ) -> None:
        """Load the models of the backends of ``steps`` now (a Ray actor its own step's,
        once, as it starts; the local runner both, before its first batch); a one-time
        build reports to ``progress``."""
        sink = progress or Progress()
        for stage, backend in ((STAGE_ELEMENTS, self.extractor), (STAGE_ASSOCIATIONS, self.miner)):
            if stage in steps and isinstance(backend, Loads):
                backend.load(functools.partial(sink.build, stage))

    # -- decode ---------------------------------------------------------------
    def decode(self, batch: Sequence[SourceItem]) -> Decoded:
        """Read, hash, decode and validate; the same picture twice in one batch is one image."""
        t = time.perf_counter()
        s = Summary(self.run_id, seen=len(batch))
        loaded: dict[str, ImageItem] = {}
        failures: list[Failure] = []
        for src in batch:
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
                failures.append(self.failure("decode", str(exc), uri=src.uri, origin=src.origin))
                continue
            old = loaded.get(item.record.id)
            if old is not None:
                old.record.uris = unite(old.record.uris, item.record.uris)
                old.record.captions = unite(old.record.captions, item.record.captions)
                continue
            loaded[item.record.id] = item
        s.count_failures(failures)
        s.add_time("decode", time.perf_counter() - t)
        return Decoded(list(loaded.values()), failures, s)

    # -- plan and extract -------------------------------------------------------
    def todo(self, captions: Sequence[str], description: str, keys: Mapping[str, str]) -> str:
        """The stage an image with these captions, source description and stored keys
        needs: ``elements`` (all), ``associations`` (elements are current) or ''."""
        if self.config.force or keys.get(STAGE_ELEMENTS) != image_stage_key(
            self.element_key, captions
        ):
            return STAGE_ELEMENTS
        if keys.get(STAGE_ASSOCIATIONS) != image_stage_key(self.assoc_key, captions, description):
            return STAGE_ASSOCIATIONS
        return ""

    def extract(self, items: Sequence[ImageItem], known: Known) -> Extracted:
        """Plan, then extract: one :class:`Work` per image, given what is stored."""
        planned = self.plan(items, known)
        return self.extract_works(planned.works, {it.record.id: it for it in items}, planned)

    def plan(self, items: Sequence[ImageItem], known: Known) -> Extracted:
        """Skip what is current; a known picture's known captions count too."""
        s = Summary(self.run_id)
        works: list[Work] = []
        for it in items:
            stored = known.get(it.record.id)
            keys = stored.keys if stored else {}
            s.new += stored is None
            if stored is not None:
                it.record.captions = unite(stored.record.captions, it.record.captions)
            # record.description stays the source's own (or empty): it wins over the
            # extractor's; an empty one leaves the stored description as it is
            work = Work(
                entry=ImageEntry(image=it.record),
                path=str(it.path or ""),
                todo=self.todo(it.record.captions, it.record.description, keys),
                source_description=it.record.description,
                keep=STAGE_ELEMENTS in keys,
            )
            work.replaces = bool(work.todo and keys)
            if not work.todo:
                s.skipped += 1
            elif work.todo == STAGE_ASSOCIATIONS and stored and stored.elements is not None:
                work.context = it.record.description or stored.description
                work.elements = stored.elements
            elif work.todo == STAGE_ASSOCIATIONS:
                work.todo = STAGE_ELEMENTS  # nothing stored to mine from: extract anew
            works.append(work)
        return Extracted(works, s)

    def extract_works(
        self, works: list[Work], items: Mapping[str, ImageItem], planned: Extracted | None = None
    ) -> Extracted:
        """Run the extractor on the works whose elements are to compute (``items``:
        the decoded images, pixels included, by id)."""
        s = Summary(self.run_id) if planned is None else planned.summary
        todo = [w for w in works if w.todo == STAGE_ELEMENTS]
        if not todo:
            return Extracted(works, s)
        t = time.perf_counter()
        answers = self.extractor.extract([self._item(w, items) for w in todo])
        s.add_time("elements", time.perf_counter() - t)
        for w, ans in zip(todo, answers, strict=True):
            if isinstance(ans, Failed):
                w.failures.append(self.failure("elements", ans.reason, work=w, raw=ans.raw))
                s.count_failures(w.failures[-1:])
                w.todo = ""
                continue
            record = w.entry.image
            # a description given with the source wins over the extractor's
            record.description = record.description or ans.description
            w.entry.elements = ans.elements
            w.entry.stage_keys[STAGE_ELEMENTS] = image_stage_key(self.element_key, record.captions)
            w.context, w.elements, w.todo = record.description, ans.elements, STAGE_ASSOCIATIONS
            s.elements += len(ans.elements)
        return Extracted(works, s)

    # -- mine -----------------------------------------------------------------------
    def mine(self, works: list[Work], items: Mapping[str, ImageItem] | None = None) -> Outcome:
        """Mine the works whose associations are to compute; every work's entry comes back.

        A work with stored elements (``keep``) whose mining fails writes neither its
        new elements nor associations, so that what is stored stays whole until a
        later run replaces both."""
        s = Summary(self.run_id)
        todo = [w for w in works if w.todo == STAGE_ASSOCIATIONS]
        touched: set[str] = set()
        if not todo:
            return outcome(works, touched, s)
        inputs = [
            MiningInput(item=self._item(w, items or {}), description=w.context, elements=w.elements)
            for w in todo
        ]
        t = time.perf_counter()
        answers = self.miner.mine(inputs)
        s.add_time("associations", time.perf_counter() - t)
        answers = self.refine(inputs, answers, s)
        for w, ans in zip(todo, answers, strict=True):
            w.todo = ""
            if isinstance(ans, Failed):
                w.failures.append(self.failure("associations", ans.reason, work=w, raw=ans.raw))
                s.count_failures(w.failures[-1:])
                if w.keep:
                    self._keep_stored(w, s)
                continue
            entry = w.entry
            entry.evocations = self.valid(ans, w.elements)
            touched |= {e.concept for e in w.elements}
            entry.stage_keys[STAGE_ASSOCIATIONS] = image_stage_key(
                self.assoc_key, entry.image.captions, w.source_description
            )
            s.associations += len(entry.evocations)
            s.covered += covered_elements(w.elements, entry.evocations)
        return outcome(works, touched, s)

    @staticmethod
    def _keep_stored(w: Work, s: Summary) -> None:
        entry = w.entry
        entry.image.description = w.source_description
        if entry.elements is not None:
            s.elements -= len(entry.elements)
        entry.elements = None
        entry.evocations = None
        entry.stage_keys.pop(STAGE_ELEMENTS, None)
        entry.stage_keys.pop(STAGE_ASSOCIATIONS, None)

    def _item(self, w: Work, items: Mapping[str, ImageItem]) -> ImageItem:
        """The work's image for a model stage: the decoded one where at hand (pixels
        kept), else its record, with the pixels read again where grounding needs them."""
        it = items.get(w.image_id)
        path = Path(w.path) if w.path else None
        if it is not None:
            return ImageItem(record=w.entry.image, path=path, image=it.image)
        if self.grounder is not None and path is not None:
            loaded = load_image(path, uri=w.entry.image.uris[0], options=self.decode_options)
            return ImageItem(record=w.entry.image, path=path, image=loaded.image)
        return ImageItem(record=w.entry.image, path=path)

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
        stage: str,
        reason: str,
        *,
        work: Work | None = None,
        uri: str = "",
        origin: str = "",
        raw: str = "",
    ) -> Failure:
        where = f" ({origin})" if origin and origin != uri else ""
        record = work.entry.image if work is not None else None
        return Failure(
            image_id=record.id if record else "",
            uri=(record.uris[0] if record and record.uris else uri),
            stage=stage,
            reason=reason + where,
            raw=raw,
            run=self.run_id,
        )


class Executor:
    """How both executors start a run: its settings, its run context (run id,
    progress) and the steps over the backend objects it is given (the configured
    ones where none is given); :meth:`backends` is where an executor swaps them."""

    def __init__(self, config: IngestConfig, given: Backends, context: RunContext | None) -> None:
        self.config = config
        self.given = given
        self.context = context or RunContext()
        self.work = BatchWork(config, self.context.run_id, self.backends(given))

    def backends(self, given: Backends) -> Backends:
        """The backends the steps run with in this process."""
        return given


def model_stages(config: IngestConfig) -> tuple[Any, Any]:
    grounder = canonicalizer = None
    if config.ground:
        from evokegraph.ingest.models.grounding import ClipGrounder

        grounder = ClipGrounder(config.ground, config.ground_pretrained)
    if config.canonicalize:
        from evokegraph.ingest.models.grounding import Canonicalizer

        canonicalizer = Canonicalizer(config.canonicalize, config.canonical_threshold)
    return grounder, canonicalizer
