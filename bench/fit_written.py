"""Fit distance 5's confidence over the memory of written associations.

The blind rating in ``bench/data/ratings/dev15`` holds 534 distance-5 words for
the 30 scenes of ``rating_heldout8.jsonl`` (rated in round 8 before, so
development data now): the words of miner version 14 and of two trial
versions that read the memory, each scene's first reference word and a word
written for another scene, shuffled and unlabelled, 2 raters. For every word
of a miner this script reads the memory's evidence as the miner does (the
memory leaving those 30 scenes out) and fits a logistic regression of the
share of raters who accepted it on the closest item's similarity and the
nearest items' share; the coefficients go to
``evokegraph.ingest.written.CONFIDENCE_*`` by hand (printed, compared with the
shipped ones). The shipped ones were fitted with the 640-item memory of
version 15; the memory has grown since (rating_heldout9-11), so a rerun prints
others (best 2.323, share 1.475, bias -1.886: from 0.5, 82 words, 62% accepted).

Usage: python bench/fit_written.py
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
from fit_acceptance import DATA

FOLDER = DATA / "ratings" / "dev15"
SCENES = DATA / "rating_heldout8.jsonl"


def rater_votes(folder: Path) -> defaultdict[str, list[int]]:
    """Sheet row -> each rater's 0/1 mark, from ``folder``'s ``rater*.csv``."""
    votes: defaultdict[str, list[int]] = defaultdict(list)
    for sheet in sorted(folder.glob("rater*.csv")):
        with sheet.open(newline="") as f:
            for row in csv.DictReader(f):
                votes[row["row"]].append(int(row["accept"]))
    return votes


def rated() -> list[tuple[str, str, str, float]]:
    """(caption, element, word, share accepted) of every miner word in the sheet."""
    key = json.loads((FOLDER / "key.json").read_text())
    votes = rater_votes(FOLDER)
    return [
        (cap, el, word, float(np.mean(votes[row])))
        for row, (cap, el, word, sources) in sorted(key.items())
        if not {"ref", "other"} & set(sources) and votes[row]
    ]


def features(rows: list[tuple[str, str, str, float]]) -> tuple[np.ndarray, np.ndarray]:
    import torch

    torch.set_num_threads(1)
    from evokegraph.ingest.contextual import ContextualMiner
    from evokegraph.ingest.written import build_memory, load_written

    miner = ContextualMiner()
    enc, vocab = miner._models()
    held = {json.loads(x)["caption"] for x in SCENES.read_text().splitlines() if x.strip()}
    items, digest = load_written()
    kept = [it for it in items if it.caption not in held]
    memory = build_memory(kept, f"{digest}-dev15", enc, vocab.index, 5)
    x, y = [], []
    for cap, el, word, share in rows:
        if word not in vocab.index:
            continue
        ev = memory.evidence(enc.encode([cap])[0], enc.encode([el])[0], len(vocab.words))
        i = vocab.index[word]
        if ev.best[i] > -1:
            x.append([float(ev.best[i]), float(ev.share[i])])
            y.append(share)
    return np.array(x), np.array(y)


def main() -> None:
    from sklearn.linear_model import LogisticRegression

    from evokegraph.ingest import written

    x, y = features(rated())
    # each word twice: accepted with weight = share, rejected with weight 1 - share
    model = LogisticRegression(C=10.0).fit(
        np.repeat(x, 2, axis=0),
        np.tile([1, 0], len(x)),
        sample_weight=np.stack([y, 1 - y], 1).ravel(),
    )
    (best, share), bias = model.coef_[0], model.intercept_[0]
    print(f"{len(x)} rated words the memory holds (of {len(rated())})")
    print(f"fitted:  best {best:.3f}  share {share:.3f}  bias {bias:.3f}")
    print(
        f"shipped: best {written.CONFIDENCE_BEST:.3f}  share {written.CONFIDENCE_SHARE:.3f}"
        f"  bias {written.CONFIDENCE_BIAS:.3f}"
    )
    p = model.predict_proba(x)[:, 1]
    for floor in (0.3, 0.4, 0.5, 0.6):
        kept = p >= floor
        print(f"confidence >= {floor}: {kept.sum():3d} words, accepted {y[kept].mean():.2f}")


if __name__ == "__main__":
    main()
