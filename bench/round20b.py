"""Round 20b: version 24's words for the scenes' common words, rated blind.

Round 20 rates the 60 target words its reference file's writer chose, and
version 24 (the memory adds the commonest caption words it lacked) changed few
of their words. This sheet rates what it changed for the round's other
elements ("man", "red", "sit" ...): every element and distance of
``rating_heldout20.jsonl``'s 30 scenes without a reference item where versions
23 and 24 give different words; each word of either version asked once, with
two reference words of another item of that file at that distance as controls,
shuffled within the slot, unlabelled. ``key.json`` gives each row's source
(``v24``: only version 24 has it, ``v23``: only version 23, ``both``,
``other``: the controls). Three raters worked apart. This prints the share
accepted per source and distance, and Fleiss' kappa.

Usage: python bench/round20b.py
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict

from fit_acceptance import DATA

FOLDER = DATA / "ratings" / "round20b"
SOURCES = ("v24", "v23", "both", "other")


def main() -> None:
    from evokegraph.ingest.rating import fleiss_kappa

    key = json.loads((FOLDER / "key.json").read_text())
    votes: dict[str, list[int]] = defaultdict(list)
    for rater in sorted(FOLDER.glob("rater*.csv")):
        with rater.open(newline="", encoding="utf-8") as f:
            for r in csv.DictReader(f):
                if r["accept"].strip() in ("0", "1"):
                    votes[r["row"]].append(int(r["accept"]))
    full = [v for v in votes.values() if len(v) == max(map(len, votes.values()))]
    kappa = fleiss_kappa([[sum(v), len(v) - sum(v)] for v in full])
    print(f"{len(key)} rows, {len(full[0])} raters, Fleiss' kappa {kappa:.2f}")
    shares: dict[tuple[int, str], list[float]] = defaultdict(list)
    for row, k in key.items():
        if votes.get(row):
            shares[(k["distance"], k["source"])].append(sum(votes[row]) / len(votes[row]))
    print("| distance | " + " | ".join(SOURCES) + " |")
    print("|---|" + "---|" * len(SOURCES))
    for d in sorted({d for d, _ in shares}):
        cells = []
        for s in SOURCES:
            ys = shares.get((d, s), [])
            cells.append(f"{100 * sum(ys) / len(ys):.0f}% ({len(ys)})" if ys else "")
        print(f"| {d} | " + " | ".join(cells) + " |")
    for s in SOURCES:
        ys = [y for (_, src), v in shares.items() if src == s for y in v]
        print(f"{s}: {len(ys)} words, accepted {100 * sum(ys) / len(ys):.0f}%")


if __name__ == "__main__":
    main()
