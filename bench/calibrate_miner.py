"""Fit the contextual miner's confidence scale on the tuning scenes.

For every item of ``bench/data/dev_scenes.jsonl`` (a scene caption, one of its
words, reference words at distances 1-5) the miner scores its whole
vocabulary at each distance in that scene. The reference words of the item
are positives; the reference words written for the *other* scenes at the same
distance are negatives. A one-feature logistic regression per distance maps
the raw score to the probability that a word at that score belongs to this
scene: ``confidence = sigmoid(a * raw + b)``. Paste the printed table into
``CALIBRATION`` in ``ingest/contextual.py``.

Never run this on ``rating_heldout.jsonl``: that file is the held-out test.

Usage: python bench/calibrate_miner.py [--gold bench/data/dev_scenes.jsonl]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def raw_scores(miner, item_caption: str, word: str):  # -> {d: (scores, words)}
    from evokegraph.ingest.caption_text import CaptionTextExtractor
    from evokegraph.records import Element

    ex = CaptionTextExtractor().extract_one([item_caption])
    pos = next((e.pos for e in ex.elements if e.concept == word), "NOUN")
    el = Element(name=word, concept=word, pos=pos, rank=0, saliency=1.0)
    names = sorted({e.concept for e in ex.elements} | {word})
    ctx, sc, scene, in_scene = miner.read_scene(" ".join(item_caption.split()), names)
    terms = miner._element_terms(el, ctx, scene, in_scene)
    shown = {d: {} for d in range(1, 6)}
    return {d: miner._distance_scores(d, terms, sc, ctx, scene, shown) for d in range(1, 6)}


def main() -> None:
    import torch
    from sklearn.linear_model import LogisticRegression

    from evokegraph.ingest.contextual import ContextualMiner

    torch.set_num_threads(1)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gold", type=Path, default=HERE / "data" / "dev_scenes.jsonl")
    args = ap.parse_args()
    if "heldout" in args.gold.name:
        raise SystemExit(f"{args.gold.name} is a held-out file: calibrate on the tuning scenes")
    items = [json.loads(x) for x in args.gold.read_text().splitlines() if x.strip()]
    miner = ContextualMiner()
    xs: dict[int, list[tuple[float, int]]] = {d: [] for d in range(1, 6)}
    for it in items:
        scored = raw_scores(miner, it["caption"], it["word"])
        others = [o for o in items if o["caption"] != it["caption"]]
        for d in range(1, 6):
            scores, words = scored[d]
            index = {w: i for i, w in enumerate(words)}
            own = set(it["d"][str(d)])
            neg = sorted({w for o in others for w in o["d"][str(d)]} - own)
            for label, group in ((1, sorted(own)), (0, neg)):
                for w in group:
                    i = index.get(w)
                    if i is not None and np.isfinite(scores[i]):
                        xs[d].append((float(scores[i]), label))
    print("CALIBRATION = {")
    for d in range(1, 6):
        arr = np.array(xs[d])
        model = LogisticRegression(class_weight="balanced").fit(arr[:, :1], arr[:, 1])
        a, b = float(model.coef_[0][0]), float(model.intercept_[0])
        pos, neg = int(arr[:, 1].sum()), int(len(arr) - arr[:, 1].sum())
        print(f"    {d}: ({a:.2f}, {b:.2f}),  # {pos} reference / {neg} other-scene words")
    print("}")


if __name__ == "__main__":
    main()
