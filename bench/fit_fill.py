"""Acceptance of the words below the miner's floor, by confidence band (dev18).

``bench/data/ratings/dev18`` holds a blind rating (2 raters) of the words miner
version 17 computed but left out (confidence under 0.5; the miner run with no
floor, top 3 per distance) for the 60 elements of ``rating_heldout12.jsonl``
(reported in round 12 before this, so development data now; the memory of
written associations did not hold it), mixed with one reference word and one
word written for another scene per element and distance. This script prints,
per distance, the share of raters who accepted the words of each confidence
band: ``evokegraph.ingest.contextual.FILL_SCORE`` (version 18) was chosen from
it by hand. The key stores each word's weight as the KB held it; the miner's
confidence is the weight over the single-miner factor of
:func:`evokegraph.weights.evokes_weight`.

Usage: python bench/fit_fill.py
"""

from __future__ import annotations

import json

import numpy as np
from fit_acceptance import DATA
from fit_written import rater_votes

FOLDER = DATA / "ratings" / "dev18"
BANDS = (0.0, 0.1, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 1.01)


def main() -> None:
    from evokegraph.ingest.contextual import FILL_SCORE
    from evokegraph.weights import agreement_score

    factor = agreement_score(1) ** 0.25  # weight = confidence * factor for one miner's word
    key = json.loads((FOLDER / "key.json").read_text())
    votes = rater_votes(FOLDER)
    for source in ("reference", "other"):
        shares = {
            d: np.mean(
                [
                    np.mean(votes[r])
                    for r, v in key.items()
                    if source in v["sources"] and v["distance"] == d
                ]
            )
            for d in range(1, 6)
        }
        print(f"{source:9s} " + "  ".join(f"d{d} {s:.0%}" for d, s in shares.items()))
    for d in range(1, 6):
        rows = [
            (v["weight"] / factor, float(np.mean(votes[r])))
            for r, v in key.items()
            if "kb" in v["sources"] and v["distance"] == d and v["weight"] is not None
        ]
        cells = []
        for lo, hi in zip(BANDS, BANDS[1:], strict=False):
            ys = [y for c, y in rows if lo <= c < hi]
            if ys:
                cells.append(f"{lo:.2f}-{min(hi, 1):.2f}: {np.mean(ys):.0%} of {len(ys)}")
        print(f"d{d} (fill from {FILL_SCORE[d]:.2f}): " + " | ".join(cells))


if __name__ == "__main__":
    main()
