"""Fit the contextual miner's per-distance weight calibration on blind ratings.

The miner ranks and keeps words by its confidence (the acceptance model's, or the
memory's). Version 36 stores that confidence recalibrated per distance,
``sigmoid(a * logit(confidence) + b)`` (:data:`~evokegraph.ingest.contextual.WEIGHT_CALIBRATION`),
so that a weight says how often blind raters accept such a word.

For each round given (default 26-30: rounds reported before, so development
data now), this mines the round's held-out captions in process with the
``caption-text`` extractor and the contextual miner with its calibration off
(the confidence itself), joins every word with the round's ratings (the share
of the 3 raters who accepted it, on either knowledge base of the round's
merged sheet: ``key_after.json``/``key_before.json`` and ``rN/a.csv``,
``rN/b.csv``), and fits per distance a logistic regression of the raters'
marks on ``logit(confidence)`` (Newton steps, an L2 pull of 1.0 toward the
identity ``a = 1, b = 0``). It prints per distance the words joined, the
fitted ``(a, b)``, the log loss of the confidence, of the confidence x 0.84
(version 35's weight) and of the fit, and the calibration error per weight
band. Never give it the round that reports the fit.

``--as-v35 KEY OUT`` instead writes a copy of an ``eval sheet`` key of a
version-36 KB with the weights version 35 would have stored for the same words
(each weight mapped back through the calibration, times 0.84), so that one
round's marks score both releases' weights (round 32's ``key_v35_derived.json``).

Usage: python bench/fit_weight_calibration.py [--rounds 26,27,28,29,30]
       python bench/fit_weight_calibration.py --as-v35 KEY OUT
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data"
BANDS = (0.0, 0.5, 0.7, 0.85, 1.01)
L2 = 1.0
V35_FACTOR = 0.5**0.25  # version 35's weight: the confidence x agreement(1) ** 0.25


def _norm(word: str) -> str:
    return " ".join(word.split()).casefold()


def ratings(n: int) -> dict[tuple[str, str, int, str], list[int]]:
    """(caption, element, distance, word) -> the raters' marks, round ``n``."""
    folder = DATA / "ratings" / f"round{n}"
    out: dict[tuple[str, str, int, str], list[int]] = {}
    for tag, name in (("a", "key_after.json"), ("b", "key_before.json")):
        key = json.loads((folder / name).read_text())
        items = {i["item"]: i for i in key["items"]}
        marks: dict[str, list[int]] = defaultdict(list)
        for sheet in sorted(folder.glob(f"r*/{tag}.csv")):
            for row in csv.DictReader(sheet.open(encoding="utf-8")):
                marks[row["row"]].append(int(row["accept"]))
        for r in key["rows"]:
            it = items[r["item"]]
            k = (_norm(it["caption"]), it["element"], r["distance"], _norm(r["word"]))
            out.setdefault(k, marks[r["row"]])
    return out


def mined(n: int, extractor: object, miner: object) -> list[tuple[str, str, int, str, float]]:
    """(caption, element, distance, word, confidence) for round ``n``'s captions."""
    out = []
    captions: list[str] = []
    for line in (DATA / f"rating_heldout{n}.jsonl").read_text().splitlines():
        c = json.loads(line)["caption"]
        if c not in captions:
            captions.append(c)
    for c in captions:
        found = extractor.extract_one([c])  # type: ignore[attr-defined]
        elements = list(getattr(found, "elements", []))
        names = {e.concept for e in elements}
        for ev in miner.mine_one(elements, c):  # type: ignore[attr-defined]
            # the item word an element stands for: itself, or the head of a compound
            # ("construction worker" -> "worker"), as eval sheet matches them
            head = ev.element.split()[-1] if " " in ev.element else ev.element
            el = ev.element if head in names and head != ev.element else head
            out.append((_norm(c), el, ev.distance, _norm(ev.concept), float(ev.score)))
    return out


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Logistic regression of ``y`` on ``x`` with an L2 pull toward (1, 0)."""
    a, b = 1.0, 0.0
    for _ in range(100):
        p = 1 / (1 + np.exp(-(a * x + b)))
        g = np.array([np.sum((p - y) * x) + L2 * (a - 1), np.sum(p - y) + L2 * b])
        w = p * (1 - p)
        h = np.array([[np.sum(w * x * x) + L2, np.sum(w * x)], [np.sum(w * x), np.sum(w) + L2]])
        step = np.linalg.solve(h, g)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-10:
            break
    return float(a), float(b)


def _loss(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _error(p: np.ndarray, y: np.ndarray) -> float:
    """Calibration error per band of ``p`` (weighted by marks)."""
    gap = 0.0
    for lo, hi in zip(BANDS, BANDS[1:], strict=False):
        inside = (p >= lo) & (p < hi)
        if inside.any():
            gap += inside.sum() * abs(y[inside].mean() - p[inside].mean())
    return gap / len(p)


def as_v35(key_path: Path, out: Path) -> None:
    """``key_path``'s key with version 35's weights for the same words."""
    from evokegraph.ingest.contextual import WEIGHT_CALIBRATION

    key = json.loads(key_path.read_text())
    for it in key["items"]:
        it["kb_weights"] = {
            d: [round(_uncalibrated(w, WEIGHT_CALIBRATION[int(d)]) * V35_FACTOR, 4) for w in ws]
            for d, ws in it["kb_weights"].items()
        }
    out.write_text(json.dumps(key, indent=1) + "\n")


def _uncalibrated(p: float, ab: tuple[float, float]) -> float:
    """The confidence whose calibration is ``p``."""
    return 1 / (1 + math.exp(-(_logit(p) - ab[1]) / ab[0]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", default="26,27,28,29,30")
    ap.add_argument("--as-v35", nargs=2, type=Path, metavar=("KEY", "OUT"))
    args = ap.parse_args()
    if args.as_v35:
        as_v35(*args.as_v35)
        return
    import torch

    torch.set_num_threads(1)
    from evokegraph.ingest.caption_text import CaptionTextExtractor
    from evokegraph.ingest.contextual import ContextualMiner

    extractor = CaptionTextExtractor()
    extractor.load()
    miner = ContextualMiner()
    miner.calibration = {}  # the confidence itself
    per_d: dict[int, list[tuple[float, list[int]]]] = defaultdict(list)
    for n in (int(x) for x in args.rounds.split(",")):
        labels = ratings(n)
        words = mined(n, extractor, miner)
        joined = [
            (d, c, labels[(cap, el, d, w)])
            for cap, el, d, w, c in words
            if (cap, el, d, w) in labels
        ]
        print(f"round {n}: {len(words)} words mined, {len(joined)} rated")
        for d, c, marks in joined:
            per_d[d].append((c, marks))
    print(
        "\n| distance | words | a | b | log loss: confidence / x 0.84 (v35) / fit | error: v35 / fit |"
    )
    print("|---|---|---|---|---|---|")
    coef = {}
    for d in sorted(per_d):
        conf = np.array([c for c, m in per_d[d] for _ in m])
        y = np.array([v for _, m in per_d[d] for v in m], dtype=float)
        x = np.array([_logit(c) for c in conf])
        a, b = fit(x, y)
        coef[d] = (round(a, 4), round(b, 4))
        p = 1 / (1 + np.exp(-(a * x + b)))
        print(
            f"| {d} | {len(per_d[d])} | {a:.4f} | {b:.4f} | {_loss(conf, y):.3f} / "
            f"{_loss(conf * V35_FACTOR, y):.3f} / {_loss(p, y):.3f} | "
            f"{_error(conf * V35_FACTOR, y):.3f} / {_error(p, y):.3f} |"
        )
    print("\nWEIGHT_CALIBRATION =", json.dumps({str(k): list(v) for k, v in coef.items()}))


if __name__ == "__main__":
    main()
