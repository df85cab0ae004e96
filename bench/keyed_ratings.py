"""Shared by the dev and round scripts whose sheets carry a ``key.json`` of row ->
source (``bench/dev22.py``, ``bench/round20b.py``): the raters' votes per row and
the share accepted per distance and source, printed as a markdown table."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path


def votes(folder: Path) -> dict[str, list[int]]:
    """Row -> the 0/1 of every ``rater*.csv`` in ``folder`` that rated it."""
    out: dict[str, list[int]] = defaultdict(list)
    for rater in sorted(folder.glob("rater*.csv")):
        with rater.open(newline="", encoding="utf-8") as f:
            for r in csv.DictReader(f):
                if r["accept"].strip() in ("0", "1"):
                    out[r["row"]].append(int(r["accept"]))
    return out


def print_shares(
    key: dict[str, dict], rated: dict[str, list[int]], sources: tuple[str, ...]
) -> dict[tuple[int, str], list[float]]:
    """Print the share of raters who accepted each source's words per distance;
    return the per-row shares by (distance, source)."""
    shares: dict[tuple[int, str], list[float]] = defaultdict(list)
    for row, k in key.items():
        if rated.get(row):
            shares[(k["distance"], k["source"])].append(sum(rated[row]) / len(rated[row]))
    print("| distance | " + " | ".join(sources) + " |")
    print("|---|" + "---|" * len(sources))
    for d in sorted({d for d, _ in shares}):
        cells = []
        for s in sources:
            ys = shares.get((d, s), [])
            cells.append(f"{100 * sum(ys) / len(ys):.0f}% ({len(ys)})" if ys else "")
        print(f"| {d} | " + " | ".join(cells) + " |")
    return shares
