"""dev22: would the words under the fill floors fill the empty slots well?

Version 23's coverage (2 words at distances 1-3, 1 at 4-5) is short of 90%
because the miner leaves a slot empty below ``FILL_SCORE``. For rounds 16-18
(reported, so development data now) two KBs were built per round with the
memory leaving that round's scenes out: version 23 as shipped and the same with
``FILL_SCORE`` lowered to 0.1 / 0.15 / 0.3 / 0.2 / 0.2 (distances 1-5), so the
first words of an empty slot come from further down. The sheet
(``bench/data/ratings/dev22/sheet.csv``) holds every slot (element, distance;
distances 1, 2, 4, 5) where the lowered floors added a word: the added words,
the words both KBs share, the reference words and another scene's words,
shuffled and unlabelled; ``key.json`` says which is which. Two raters worked
apart. This script prints the share accepted per source and distance and the
raters' Cohen's kappa.

Usage: python bench/dev22.py
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict

from fit_acceptance import DATA

FOLDER = DATA / "ratings" / "dev22"
SOURCES = ("below_floor", "kb", "reference", "other")


def votes() -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    for rater in sorted(FOLDER.glob("rater*.csv")):
        with rater.open(newline="", encoding="utf-8") as f:
            for r in csv.DictReader(f):
                if r["accept"].strip() in ("0", "1"):
                    out[r["row"]].append(int(r["accept"]))
    return out


def kappa(pairs: list[list[int]]) -> float:
    n = len(pairs)
    agree = sum(a == b for a, b in pairs) / n
    p1, p2 = sum(a for a, _ in pairs) / n, sum(b for _, b in pairs) / n
    chance = p1 * p2 + (1 - p1) * (1 - p2)
    return (agree - chance) / (1 - chance)


def main() -> None:
    key = json.loads((FOLDER / "key.json").read_text())
    v = votes()
    print(f"{len(key)} rows; Cohen's kappa {kappa([x for x in v.values() if len(x) == 2]):.2f}")
    shares: dict[tuple[int, str], list[float]] = defaultdict(list)
    for row, k in key.items():
        if v.get(row):
            shares[(k["distance"], k["source"])].append(sum(v[row]) / len(v[row]))
    print("| distance | " + " | ".join(SOURCES) + " |")
    print("|---|" + "---|" * len(SOURCES))
    for d in sorted({d for d, _ in shares}):
        cells = []
        for s in SOURCES:
            ys = shares.get((d, s), [])
            cells.append(f"{100 * sum(ys) / len(ys):.0f}% ({len(ys)})" if ys else "")
        print(f"| {d} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
