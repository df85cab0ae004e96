"""Fit the contextual miner's acceptance model on human ratings.

Training rows, each (scene caption, element, distance, word, share accepted):

* the blind rating sheets of earlier rounds (``bench/data/ratings/round*/``:
  the miners' words, reference words and other scenes' words, each marked
  accept/reject by 2-3 raters working apart; the share of raters who accepted
  is the label). Those rounds' figures were reported before they were used
  here; a round that reports a model fitted on them must rate new scenes;
* the tuning scenes (``bench/data/dev_scenes*.jsonl``): each item's reference
  words are accepted (1.0); the words written for two other scenes at the same
  distance are not (0.0).

For every (caption, element) the miner scores its candidates exactly as it
does when mining (:meth:`ContextualMiner._distance_scores`) and the rated
word's score terms (:data:`~evokegraph.ingest.acceptance.FEATURES`) become a
row; words the miner could never propose (outside its vocabulary and
WordNet's extras, or masked at that distance) are left out. One logistic
regression per distance on standardised features, a KB word's rating
weighing :data:`KB_WEIGHT` times a reference or other-scene word's (at
:data:`HAND_ONLY` distances on the hand score alone); the weights are written
back on the raw scale to ``evokegraph/data/acceptance.json``.

Before writing, the same fit is checked across rounds: fit without one
round, score that round's rated words; the AUC of the model beside the AUC
of the hand score it re-ranks is printed per distance.

Never point this at ``rating_heldout7.jsonl`` or a round that rated it: that
round is the held-out test of this release (rounds 1-5 were reported before
they may be added here; the shipped model is fitted on rounds 1-3: a refit on
rounds 1-6 ranked held-out round 6's distance-4 words worse, AUC 0.70 -> 0.60).

Usage: python bench/fit_acceptance.py [--write]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import pickle
from collections import defaultdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
ROUNDS = ("round1", "round2", "round3", "dev2")
DEV = ("dev_scenes.jsonl", "dev_scenes2.jsonl", "dev_scenes3.jsonl")
SAME_SCENES = {"dev2": "dev_scenes2.jsonl"}  # a round rated on a tuning file's scenes
REPEAT_WEIGHT = -1.0  # per use by another element of the image: fixed, no rated row varies it
C = 0.5
# a KB word's rating counts this much more than a reference or other-scene
# word's: the model re-ranks the miner's candidates, and those are its words
KB_WEIGHT = float(os.environ.get("KB_WEIGHT", 10.0))
# distances where the full model ranked held-out rounds' KB words no better
# than the hand score (AUC above): there it only calibrates the hand score
HAND_ONLY = tuple(int(x) for x in os.environ.get("HAND_ONLY", "1,5").split(",") if x)


def kb_rows(round_dir: Path) -> set[str]:
    """Sheet rows that hold a knowledge base's word (not only reference or
    other-scene words): the candidates the model re-ranks in use."""
    out = set()
    keys = sorted(round_dir.glob("key*.json"))
    mapping = round_dir / "map.json"
    merged = json.loads(mapping.read_text()) if mapping.exists() else None
    for path in keys:
        tag = {"key_after.json": "a", "key_before.json": "b"}.get(path.name)
        kb = {r["row"] for r in json.loads(path.read_text())["rows"] if "kb" in r["sources"]}
        if merged is None:
            out |= kb
        else:
            out |= {m for m, to in merged.items() if to.get(tag or "") in kb}
    return out


def rated_rows(round_dir: Path) -> list[tuple[str, str, int, str, float, str]]:
    """(caption, element, distance, word, share accepted, sheet row) of one round."""
    votes: dict[str, list[int]] = defaultdict(list)
    for rater in sorted(round_dir.glob("rater*.csv")):
        for r in csv.DictReader(rater.open()):
            if r["accept"].strip() in ("0", "1"):
                votes[r["row"]].append(int(r["accept"]))
    out = []
    for r in csv.DictReader((round_dir / "sheet.csv").open()):
        if votes.get(r["row"]):
            share = sum(votes[r["row"]]) / len(votes[r["row"]])
            out.append((r["caption"], r["element"], int(r["distance"]), r["word"], share, r["row"]))
    return out


def dev_rows(path: Path) -> list[tuple[str, str, int, str, float]]:
    items = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    out = []
    for n, it in enumerate(items):
        others = [o for o in items if o["caption"] != it["caption"]]
        pick = [others[(7 * n + k * 13) % len(others)] for k in (1, 2)]
        for d in range(1, 6):
            own = it["d"][str(d)]
            out += [(it["caption"], it["word"], d, w, 1.0, "") for w in own]
            neg = sorted({w for o in pick for w in o["d"][str(d)]} - set(own))
            out += [(it["caption"], it["word"], d, w, 0.0, "") for w in neg]
    return out


def candidate_tables(miner, caption: str, word: str):  # -> {d: (scores, words, feats)}
    from evokegraph.ingest.caption_text import CaptionTextExtractor
    from evokegraph.records import Element

    ex = CaptionTextExtractor().extract_one([caption])
    pos = next((e.pos for e in ex.elements if e.concept == word), "NOUN")
    el = Element(name=word, concept=word, pos=pos, rank=0, saliency=1.0)
    names = sorted({e.concept for e in ex.elements} | {word})
    ctx, sc, scene, in_scene = miner.read_scene(" ".join(caption.split()), names)
    terms = miner._element_terms(el, ctx, scene, in_scene)
    shown: dict[int, dict[int, int]] = {d: {} for d in range(1, 6)}
    return {d: miner._distance_scores(d, terms, sc, ctx, scene, shown) for d in range(1, 6)}


def featurise(miner, rows, group: str, kb: set[str]):
    """Per distance: feature rows, labels, and whether each is a KB word."""
    from evokegraph.ingest.acceptance import FEATURES

    by_item: dict[tuple[str, str], list] = defaultdict(list)
    for cap, el, d, w, y, row in rows:
        by_item[(cap, el)].append((d, w, y, row in kb))
    out: dict[int, tuple[list, list, list]] = {d: ([], [], []) for d in range(1, 6)}
    kept = skipped = 0
    for (cap, el), rated in sorted(by_item.items()):
        tables = candidate_tables(miner, cap, el)
        index = {d: {w: i for i, w in reversed(list(enumerate(tables[d][1])))} for d in tables}
        for d, w, y, is_kb in rated:
            scores, _, feats = tables[d]
            i = index[d].get(w.lower())
            if i is None or not np.isfinite(scores[i]):
                skipped += 1
                continue
            f = {**feats, "hand": scores}
            out[d][0].append([float(f[k][i]) for k in FEATURES])
            out[d][1].append(y)
            out[d][2].append(is_kb)
            kept += 1
    print(f"{group}: {kept} rated words featurised, {skipped} the miner could not propose")
    return out


def fit(
    x: np.ndarray, y: np.ndarray, kb: np.ndarray, d: int
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """Weighted logistic regression on soft labels; weights on the raw scale."""
    from sklearn.linear_model import LogisticRegression

    from evokegraph.ingest.acceptance import FEATURES, FIXED

    fixed = np.array([k in FIXED for k in FEATURES])
    lo, hi = np.percentile(x, 1, axis=0), np.percentile(x, 99, axis=0)
    x = clipped(x, lo, hi)
    mu, sd = x.mean(0), x.std(0)
    live = (sd > 1e-9) & ~fixed & ~np.array([k in DROPPED for k in FEATURES])
    if d in HAND_ONLY:
        live &= np.array([k == "hand" for k in FEATURES])
    z = (x[:, live] - mu[live]) / sd[live]
    xx = np.concatenate([z, z])
    yy = np.concatenate([np.ones(len(y)), np.zeros(len(y))])
    rw = np.where(kb, KB_WEIGHT, 1.0)
    ww = np.concatenate([y * rw, (1.0 - y) * rw]) + 1e-6
    model = LogisticRegression(C=C, max_iter=2000).fit(xx, yy, sample_weight=ww)
    w = np.zeros(x.shape[1])
    w[live] = model.coef_[0] / sd[live]
    b = float(model.intercept_[0] - (model.coef_[0] * mu[live] / sd[live]).sum())
    w[fixed] = REPEAT_WEIGHT
    lo[fixed], hi[fixed] = 0.0, 1e9  # repeats count in full
    return w, b, lo, hi


def clipped(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Features held to the range they had in the fit: a candidate far outside
    it (a d4 word as close to the element as a synonym) is not extrapolated."""
    return np.clip(x, lo, hi)


def auc(score: np.ndarray, y: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    hard = y >= 0.5
    if hard.all() or not hard.any():
        return float("nan")
    return float(roc_auc_score(hard, score))


FLOORS = (0.3, 0.4, 0.5, 0.6)
DROPPED: set[str] = set()  # --drop: features given weight 0 (to compare fits)


def calibration(logit: np.ndarray, y: np.ndarray) -> list[str]:
    """Per floor: "share accepted/count" of the words whose probability reaches it."""
    p = 1.0 / (1.0 + np.exp(-logit))
    return [
        f"{f:.1f}:{y[p >= f].mean():.2f}/{int((p >= f).sum())}" for f in FLOORS if (p >= f).any()
    ]


def main() -> None:
    import torch

    from evokegraph.ingest.acceptance import FEATURES, MODEL_FILE
    from evokegraph.ingest.contextual import ContextualMiner

    torch.set_num_threads(1)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", action="store_true", help="write evokegraph/data/acceptance.json")
    ap.add_argument("--exclude", action="append", default=[], help="leave a source out (its name)")
    ap.add_argument("--drop", action="append", default=[], help="fit without a feature")
    ap.add_argument(
        "--cache", type=Path, help="featurised rows: read if present, else computed and written"
    )
    args = ap.parse_args()
    DROPPED.update(args.drop)
    miner = ContextualMiner()
    sources = {r: rated_rows(DATA / "ratings" / r) for r in ROUNDS}
    sources |= {f: dev_rows(DATA / f) for f in DEV if (DATA / f).exists()}
    sources = {k: v for k, v in sources.items() if k not in args.exclude}
    for name in sources:
        if "heldout7" in name or name == "round7":
            raise SystemExit(f"{name} is the held-out test of this model")
    kb = {r: kb_rows(DATA / "ratings" / r) for r in ROUNDS}
    if args.cache and args.cache.exists():
        per = {k: v for k, v in pickle.loads(args.cache.read_bytes()).items() if k in sources}
    else:
        per = {n: featurise(miner, rows, n, kb.get(n, set())) for n, rows in sources.items()}
        if args.cache:
            args.cache.write_bytes(pickle.dumps(per))
    hand_col = FEATURES.index("hand")
    print("\nleave-one-round-out AUC (accepted by most raters vs not), hand score -> model")
    for held in ROUNDS:
        line, cal = [], []
        for d in range(1, 6):
            tr = [per[n][d] for n in per if n not in (held, SAME_SCENES.get(held))]
            x = np.array([r for t in tr for r in t[0]])
            y = np.array([v for t in tr for v in t[1]])
            k = np.array([v for t in tr for v in t[2]], dtype=bool)
            w, b, lo, hi = fit(x, y, k, d)
            xt, yt = np.array(per[held][d][0]), np.array(per[held][d][1])
            kt = np.array(per[held][d][2], dtype=bool)
            p = clipped(xt, lo, hi) @ w + b
            cal.append(f"d{d} " + " ".join(calibration(p[kt], yt[kt])))
            line.append(
                f"d{d} {auc(xt[:, hand_col], yt):.2f}->{auc(p, yt):.2f}"
                f" kb {auc(xt[kt, hand_col], yt[kt]):.2f}->{auc(p[kt], yt[kt]):.2f}"
            )
        print(f"  held out {held}: " + "  ".join(line))
        calib = "  ".join(cal)
        print(f"    {held} KB words, share accepted at model probability >= floor: " + calib)
    out = {"features": list(FEATURES), "fitted_on": sorted(per), "C": C, "distances": {}}
    for d in range(1, 6):
        x = np.array([r for n in per for r in per[n][d][0]])
        y = np.array([v for n in per for v in per[n][d][1]])
        k = np.array([v for n in per for v in per[n][d][2]], dtype=bool)
        w, b, lo, hi = fit(x, y, k, d)
        out["distances"][str(d)] = {
            "weights": [round(float(v), 5) for v in w],
            "bias": round(b, 5),
            "low": [round(float(v), 5) for v in lo],
            "high": [round(float(v), 5) for v in hi],
            "rows": len(y),
        }
        top = sorted(
            zip(FEATURES, w, strict=True),
            key=lambda t: -abs(t[1] * x[:, FEATURES.index(t[0])].std()),
        )[:6]
        print(
            f"d{d}: {len(y)} rows, mean label {y.mean():.2f}; strongest: "
            + ", ".join(f"{k} {v:+.2f}" for k, v in top)
        )
    if args.write:
        from importlib import resources

        path = Path(str(resources.files("evokegraph.data") / MODEL_FILE))
        path.write_text(json.dumps(out, indent=1) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
