"""``evokegraph eval associations``: a KB's associations against reference associations.

A reference file has one JSON object per line::

    {"caption": "a cup of coffee on a red saucer", "word": "coffee",
     "d": {"1": ["espresso"], "2": ["beverage"], "3": ["cafe"], "4": ["ritual"], "5": ["comfort"]}}

matched to a stored image by ``image`` (id, unique prefix or path) or else by
``caption`` (one of the image's captions). With the sentence encoder, for the
associations the KB holds for ``word`` in that image:

* per distance, the mean over stored words of the best cosine to the
  reference words of the same distance (``model``), and the same against the
  reference words of another item (``shuffled``: the level a word reaches by
  chance; item i is scored against the next item with another word);
* ``ladder``: Spearman correlation between a stored word's distance and the
  reference distance whose words it is closest to;
* mean concreteness of the stored words per distance, and coverage (reference
  words found as elements of their image).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evokegraph.errors import UserInputError
from evokegraph.levels import DISTANCE_NAMES, DISTANCES
from evokegraph.records import concept_key


class GoldItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    word: str = Field(min_length=1)
    caption: str = ""
    image: str = ""
    d: dict[int, list[str]]


def read_gold(path: Path) -> list[GoldItem]:
    """Parse a reference file; a bad line is an error naming file and line."""
    if not path.is_file():
        raise UserInputError(
            f"no reference file at {path}; give a JSONL file of reference associations"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UserInputError(
            f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}); save the file as UTF-8"
        ) from None
    items = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = GoldItem.model_validate(json.loads(line))
        except (json.JSONDecodeError, ValidationError) as exc:
            first = str(exc).splitlines()[0]
            raise UserInputError(
                f"{path}:{n}: not a reference item ({first}); expected "
                '{"caption": ..., "word": ..., "d": {"1": [...], ..., "5": [...]}}'
            ) from None
        if not item.caption and not item.image:
            raise UserInputError(f"{path}:{n}: give a caption or an image to match the item")
        if sorted(item.d) != list(DISTANCES) or not all(item.d.values()):
            raise UserInputError(
                f"{path}:{n}: 'd' needs non-empty word lists for distances 1..{DISTANCES[-1]}"
            )
        items.append(item)
    if not items:
        raise UserInputError(f"{path} holds no reference items")
    return items


@dataclass
class Matched:
    item: GoldItem
    image_id: str | None
    produced: dict[int, list[str]] = field(default_factory=dict)  # stored words per distance
    weights: dict[int, list[float]] = field(default_factory=dict)  # their EVOKES weights, aligned

    @property
    def covered(self) -> bool:
        return bool(self.produced)


def match_items(kb: Any, items: Sequence[GoldItem]) -> list[Matched]:
    """Find each item's image and the associations stored for its word there."""
    from evokegraph.views import resolve_image

    by_caption: dict[str, str] = {}
    for row in kb.query("MATCH (i:Image) RETURN i.id AS id, i.captions AS captions ORDER BY id"):
        for cap in row["captions"] or []:
            by_caption.setdefault(" ".join(cap.split()).casefold(), row["id"])
    out = []
    for it in items:
        if it.image:
            image_id: str | None = resolve_image(kb, it.image)
        else:
            image_id = by_caption.get(" ".join(it.caption.split()).casefold())
        m = Matched(it, image_id)
        if image_id is not None:
            view = kb.get_image(image_id)
            evs = sorted(view.evocations if view else [], key=lambda e: (e.distance, e.rank))
            element = _element_for(concept_key(it.word), sorted({e.element for e in evs}))
            for ev in evs:
                if ev.element == element:
                    m.produced.setdefault(ev.distance, []).append(ev.concept)
                    m.weights.setdefault(ev.distance, []).append(float(ev.weight))
        out.append(m)
    return out


def _element_for(word: str, elements: Sequence[str]) -> str | None:
    """The stored element an item's word names: itself, or else a compound it
    heads ("worker" -> "construction worker", "table" -> "kitchen table")."""
    if word in elements:
        return word
    return next((e for e in elements if " " in e and e.split()[-1] == word), None)


def _spearman(a: Sequence[float], b: Sequence[float]) -> float:
    import pandas as pd

    if len(a) < 2:
        return float("nan")
    ra, rb = pd.Series(a).rank().to_numpy(), pd.Series(b).rank().to_numpy()
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def score(matched: Sequence[Matched], encoder: Any) -> dict[str, Any]:
    """The report (see the module docstring); ``encoder`` has ``encode(texts)``."""
    from evokegraph.lexicons.concreteness import concreteness

    scored = [m for m in matched if m.covered]
    words = sorted(
        {w for m in scored for ws in m.produced.values() for w in ws}
        | {w for m in scored for ws in m.item.d.values() for w in ws}
    )
    vec = dict(zip(words, encoder.encode(words), strict=True)) if words else {}

    def best(word: str, refs: list[str]) -> float:
        return float(max(vec[word] @ vec[r] for r in refs))

    model: dict[int, list[float]] = {d: [] for d in DISTANCES}
    shuffled: dict[int, list[float]] = {d: [] for d in DISTANCES}
    conc: dict[int, list[float]] = {d: [] for d in DISTANCES}
    intended, closest = [], []
    for i, m in enumerate(scored):
        other = next(
            (
                scored[(i + k) % len(scored)]
                for k in range(1, len(scored))
                if concept_key(scored[(i + k) % len(scored)].item.word) != concept_key(m.item.word)
            ),
            None,
        )
        for d, ws in m.produced.items():
            for w in ws:
                model[d].append(best(w, m.item.d[d]))
                if other is not None:
                    shuffled[d].append(best(w, other.item.d[d]))
                conc[d].append(concreteness(w))
                intended.append(d)
                fits = {dd: best(w, m.item.d[dd]) for dd in DISTANCES}
                closest.append(max(DISTANCES, key=fits.__getitem__))

    def mean(xs: list[float]) -> float | None:
        return round(float(np.mean(xs)), 3) if xs else None

    def gap(xs: list[float], ys: list[float]) -> float | None:
        mx, my = mean(xs), mean(ys)
        return round(mx - my, 3) if mx is not None and my is not None else None

    rows = [
        {
            "distance": d,
            "name": DISTANCE_NAMES[d],
            "words": len(model[d]),
            "model": mean(model[d]),
            "shuffled": mean(shuffled[d]),
            "gap": gap(model[d], shuffled[d]),
            "concreteness": mean(conc[d]),
        }
        for d in DISTANCES
    ]
    ladder = _spearman(intended, closest)
    return {
        "items": len(matched),
        "matched": sum(m.image_id is not None for m in matched),
        "covered": len(scored),
        "coverage": round(len(scored) / len(matched), 3) if matched else 0.0,
        "ladder": None if np.isnan(ladder) else round(ladder, 3),
        "distances": rows,
        "unmatched": [m.item.caption or m.item.image for m in matched if m.image_id is None],
        "not_elements": [m.item.word for m in matched if m.image_id and not m.covered],
    }


def evaluate_associations(
    kb: Any, gold: Path, encoder_name: str = "all-MiniLM-L6-v2"
) -> dict[str, Any]:
    """Library entry point: read, match and score."""
    from evokegraph.models.text_encoder import load_text_encoder

    items = read_gold(gold)
    report = score(match_items(kb, items), load_text_encoder(encoder_name))
    report["encoder"] = encoder_name
    return report
