"""Captioning by depth: traverse, choose paths, realize, write Caption nodes.

For each image and depth, ``GraphStore.context`` gives the paths from the
image's elements to concepts at that accumulated depth; :func:`choose` keeps
``per_element`` paths per element (the heaviest, or drawn by weight with
``sample=True``; deterministic for a seed); the realizer writes the text.
Captions are content-addressed (image, depth, realizer, text, path), so a
rerun writes nothing twice; a per-image stage key makes reruns skip images
already captioned with the same settings.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from evokegraph.captioning.realizers import CaptionRequest, Realizer
from evokegraph.digests import settings_digest
from evokegraph.graph.store import GraphStore
from evokegraph.levels import DEFAULT_DEPTHS
from evokegraph.records import (
    Caption,
    ContextPath,
    Failure,
    GraphBatch,
    ImageEntry,
    RunRecord,
    utcnow,
)
from evokegraph.runs import Failed, Progress, new_run_id
from evokegraph.version import __version__


@dataclass
class CaptionConfig:
    depths: Sequence[int] = DEFAULT_DEPTHS
    per_element: int = 1
    seed: int = 0
    sample: bool = False
    uniform: bool = False  # draw uniformly at random (seeded), as the reference preset
    batch_size: int = 64
    force: bool = False
    load_images: bool = False  # realizers that look at the picture need the pixels


@dataclass
class CaptionSummary:
    run_id: str
    images: int = 0
    skipped: int = 0
    captions: int = 0
    failed: int = 0
    by_depth: dict[int, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def choose(
    paths: Sequence[ContextPath],
    per_element: int,
    rng: random.Random | None,
    uniform: bool = False,
) -> list[ContextPath]:
    """Per element: the ``per_element`` heaviest paths, or draws by weight (or
    uniform draws, the reference's ``random.choice`` per word and distance).
    An image's elements say different things where they can: a concept another
    element's caption already ends at is taken only when an element has nothing
    else (deep paths converge: four of the coffee photo's five depth-7 captions
    were about "deadline"). Elements choose in order of their heaviest path."""
    by_el: dict[str, list[ContextPath]] = {}
    for p in paths:
        by_el.setdefault(p.element, []).append(p)
    order = sorted(by_el, key=lambda el: (-max(p.weight for p in by_el[el]), el))
    out: list[ContextPath] = []
    said: set[str] = set()
    for el in order:
        cands = sorted(by_el[el], key=lambda p: (-p.weight, p.concept))
        fresh = [p for p in cands if p.concept not in said]
        pool = fresh if len(fresh) >= min(per_element, len(cands)) else cands
        if rng is None:
            picked = pool[:per_element]
        else:
            pool, picked = list(pool), []
            for _ in range(min(per_element, len(pool))):
                weights = [1.0 if uniform else max(p.weight, 1e-9) for p in pool]
                picked.append(pool.pop(rng.choices(range(len(pool)), weights=weights)[0]))
        out += picked
        said |= {p.concept for p in picked}
    return out


def _rng(seed: int, image_id: str, depth: int) -> random.Random:
    return random.Random(int(hashlib.sha256(f"{seed}|{image_id}|{depth}".encode()).hexdigest(), 16))


class Captioner:
    def __init__(
        self,
        store: GraphStore,
        realizer: Realizer,
        config: CaptionConfig | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.store = store
        self.realizer = realizer
        self.config = config or CaptionConfig()
        self.progress = progress or Progress()
        self.summary = CaptionSummary(run_id=new_run_id("caption"))
        self.stage = f"captions:{realizer.name}"
        self.key = settings_digest(
            {
                "realizer": realizer.name,
                "model": realizer.model,
                "settings": realizer.settings(),
                "depths": list(self.config.depths),
                "per_element": self.config.per_element,
                "seed": self.config.seed,
                "sample": self.config.sample,
                **({"uniform": True} if self.config.uniform else {}),
            }
        )

    def run(self, image_ids: Sequence[str] | None = None) -> CaptionSummary:
        ids = list(image_ids) if image_ids else self.store.image_ids()
        run = RunRecord(
            id=self.summary.run_id,
            command="caption",
            config={
                "realizer": self.realizer.name,
                "model": self.realizer.model,
                "key": self.key,
                "depths": list(self.config.depths),
                "per_element": self.config.per_element,
                "seed": self.config.seed,
                "sample": self.config.sample,
            },
            versions={"evokegraph": __version__},
        )
        self.store.record_run(run)
        for i in range(0, len(ids), self.config.batch_size):
            self._batch(ids[i : i + self.config.batch_size])
        run.finished = utcnow()
        run.status = "done"
        run.counts = {
            "images": self.summary.images,
            "captions": self.summary.captions,
            "failed": self.summary.failed,
            "skipped": self.summary.skipped,
        }
        run.timings = dict(self.summary.seconds)
        self.store.record_run(run)
        return self.summary

    def _with_captions(self, ids: list[str]) -> set[str]:
        """Those of ``ids`` with captions of this realizer stored. An image marked
        done without them is captioned again: after a full disk, LadybugDB 0.22
        can replay a batch's stage keys from its log without the batch's
        Caption rows (COPY), and a rerun must not skip those images (H24)."""
        if not ids:
            return set()
        rows = self.store.query(
            "MATCH (c:Caption)-[:DESCRIBES]->(i:Image) WHERE i.id IN $ids AND c.realizer = $r "
            "RETURN DISTINCT i.id AS id",
            {"ids": ids, "r": self.realizer.name},
        )
        return {str(r["id"]) for r in rows}

    def _time(self, stage: str, t: float) -> None:
        self.summary.seconds[stage] = self.summary.seconds.get(stage, 0.0) + time.perf_counter() - t

    def _batch(self, ids: list[str]) -> None:
        cfg = self.config
        stored = self.store.image_records(ids)
        requests: list[CaptionRequest] = []
        t = time.perf_counter()
        todo = []
        marked = [i for i in ids if i in stored and stored[i][1].get(self.stage) == self.key]
        kept = set() if cfg.force else self._with_captions(marked)
        for image_id in ids:
            if image_id not in stored:
                continue
            record, keys = stored[image_id]
            if image_id in kept:
                self.summary.skipped += 1
                continue
            pixels = _load_pixels(record.uris) if cfg.load_images else None
            mine = []
            for depth, paths in self.store.contexts(image_id, cfg.depths).items():
                rng = _rng(cfg.seed, image_id, depth) if cfg.sample or cfg.uniform else None
                salient = sorted({p.element for p in paths})
                for path in choose(paths, cfg.per_element, rng, cfg.uniform):
                    mine.append(
                        CaptionRequest(
                            path=path, image=pixels, captions=record.captions, salient=salient
                        )
                    )
            if not cfg.force and image_id in marked and not mine:
                self.summary.skipped += 1  # done: it has no path to caption
                continue
            todo.append(image_id)
            requests += mine
        self._time("traverse", t)
        t = time.perf_counter()
        answers = self.realizer.realize(requests) if requests else []
        self._time("realize", t)
        captions, failures = [], []
        for req, ans in zip(requests, answers, strict=True):
            if isinstance(ans, Failed):
                self.summary.failed += 1
                failures.append(
                    Failure(
                        image_id=req.path.image_id,
                        stage="caption",
                        reason=f"depth {req.path.depth}, {req.path.concept!r}: {ans.reason}",
                        raw=ans.raw,
                        run=self.summary.run_id,
                    )
                )
                continue
            p = req.path
            captions.append(
                Caption(
                    image_id=p.image_id,
                    text=ans,
                    depth=p.depth,
                    realizer=self.realizer.name,
                    model=self.realizer.model,
                    path=p.steps,
                    uses=[s.target for s in p.steps],
                    weight=p.weight,
                    run=self.summary.run_id,
                )
            )
            self.summary.by_depth[p.depth] = self.summary.by_depth.get(p.depth, 0) + 1
        entries = [ImageEntry(image=stored[i][0], stage_keys={self.stage: self.key}) for i in todo]
        t = time.perf_counter()
        self.store.write(GraphBatch(images=entries, captions=captions, failures=failures))
        self._time("write", t)
        self.summary.images += len(todo)
        self.summary.captions += len(captions)
        self.progress.advance("caption", len(ids))


def _load_pixels(uris: Sequence[str]) -> Any:
    from pathlib import Path

    from evokegraph.errors import ImageError
    from evokegraph.images import decode

    for uri in uris:
        try:
            return decode(Path(uri).read_bytes())[0]
        except (OSError, ImageError):
            continue
    return None
