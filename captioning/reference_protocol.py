"""The reference notebook's CLIP-cosine analysis (clip_evaluation.ipynb).

Only images with a caption at every distance 1..5 and, as the notebook
requires, an original caption and a FOIL caption. Per image one caption per
distance, one original and one FOIL caption (seeded random choices, as the
notebook's ``random.choice``). Rows: the mean image-caption cosine of the
original caption, the FOIL caption and each distance, next to the
reference's means; pairwise: the share of images where the original (and the
FOIL) caption scores higher than the creative caption at each distance.

Originals: a COCO captions JSON (``annotations[].image_id/caption``) or, by
default, the image's own stored captions. FOIL captions: a FOIL JSON
(``annotations[]`` with ``foil: true``), matched to images by the COCO image
id in the file name (its last run of digits, e.g. ``COCO_val2014_000000123.jpg``
or ``123.jpg``).
"""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean
from typing import Any

from evokegraph.captioning.report import Scorer
from evokegraph.errors import UserInputError
from evokegraph.graph.store import GraphStore
from evokegraph.levels import DISTANCES

# the notebook's printed means (ViT-B-32 laion2b_s34b_b79k, COCO 2014 train+val)
REFERENCE_MEANS = {
    "original": 0.309,
    "foil": 0.265,
    "distance 1": 0.296,
    "distance 2": 0.292,
    "distance 3": 0.283,
    "distance 4": 0.273,
    "distance 5": 0.260,
}
Q = (
    "MATCH (c:Caption)-[:DESCRIBES]->(i:Image) "
    "RETURN i.id AS image, i.uris AS uris, i.captions AS own, c.depth AS depth, "
    "c.text AS text, c.realizer AS realizer"
)


@dataclass
class ReferenceReport:
    images: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    pairwise: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def coco_image_id(path: str) -> int | None:
    runs = re.findall(r"\d+", Path(path).stem)
    return int(runs[-1]) if runs else None


def load_coco_captions(path: str | Path, foil_only: bool = False) -> dict[int, list[str]]:
    """COCO-style annotations by image id (FOIL files: only ``foil: true`` ones)."""
    p = Path(path)
    if not p.is_file():
        raise UserInputError(f"no caption file at {p}; give a COCO/FOIL annotations JSON")
    try:
        anns = json.loads(p.read_text(encoding="utf-8"))["annotations"]
        out: dict[int, list[str]] = defaultdict(list)
        for a in anns:
            if not foil_only or a.get("foil") is True:
                out[int(a["image_id"])].append(str(a["caption"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise UserInputError(
            f"{p}: expected COCO-style JSON with annotations[].image_id and caption ({exc})"
        ) from None
    return dict(out)


def _select(
    store: GraphStore,
    originals: dict[int, list[str]] | None,
    foils: dict[int, list[str]] | None,
    realizer: str | None,
    seed: int,
) -> list[dict[str, Any]]:
    """One entry per image that passes the notebook's filter, choices seeded."""
    by_image: dict[str, _Stored] = {}
    for r in store.query(Q):
        if realizer is not None and r["realizer"] != realizer:
            continue
        e = by_image.setdefault(r["image"], _Stored(r["uris"] or [], r["own"] or []))
        e.texts.setdefault(int(r["depth"]), []).append(r["text"])
    rng = random.Random(seed)
    chosen = []
    for image in sorted(by_image):
        e = by_image[image]
        path = next((u for u in e.uris if Path(u).is_file()), None)
        if path is None or any(d not in e.texts for d in DISTANCES):
            continue
        cid = coco_image_id(path)
        own = _by_id(originals, cid) if originals is not None else e.own
        foil = _by_id(foils, cid) if foils is not None else []
        if not own or (foils is not None and not foil):
            continue
        item = {"path": path, "original": rng.choice(sorted(own))}
        if foil:
            item["foil"] = rng.choice(sorted(foil))
        for d in DISTANCES:
            item[f"distance {d}"] = rng.choice(sorted(e.texts[d]))
        chosen.append(item)
    return chosen


@dataclass
class _Stored:
    """One image as stored: its URIs, its own captions, caption texts by depth."""

    uris: list[str]
    own: list[str]
    texts: dict[int, list[str]] = field(default_factory=dict)


def _by_id(captions: dict[int, list[str]], cid: int | None) -> list[str]:
    return captions.get(cid, []) if cid is not None else []


def reference_report(
    store: GraphStore,
    scorer: Scorer,
    *,
    originals: dict[int, list[str]] | None = None,
    foils: dict[int, list[str]] | None = None,
    realizer: str | None = None,
    seed: int = 0,
) -> ReferenceReport:
    chosen = _select(store, originals, foils, realizer, seed)
    report = ReferenceReport(images=len(chosen))
    if foils is None:
        report.notes.append("no FOIL file given: no foil row, images need only an original")
    if not chosen:
        report.notes.append("no image has captions at all five distances and an original caption")
        return report
    paths = [c["path"] for c in chosen]
    kinds = [
        "original",
        *(["foil"] if foils is not None else []),
        *(f"distance {d}" for d in DISTANCES),
    ]
    scores = {k: list(scorer(paths, [c[k] for c in chosen])) for k in kinds}
    for k in kinds:
        report.rows.append(
            {"caption": k, "mean_cosine": float(mean(scores[k])), "reference": REFERENCE_MEANS[k]}
        )
    report.pairwise = _pairwise(scores, [k for k in ("original", "foil") if k in scores])
    return report


def _pairwise(scores: Mapping[str, Sequence[float]], bases: Sequence[str]) -> list[dict[str, Any]]:
    """The notebook's get_percentage_times: share of images where base > other (strict)."""
    rows = []
    for base in bases:
        others = [k for k in scores if k != base and (k.startswith("distance") or k in bases)]
        for other in others:
            wins = sum(a > b for a, b in zip(scores[base], scores[other], strict=True))
            rows.append({"higher": base, "than": other, "share": wins / len(scores[base])})
    return rows
