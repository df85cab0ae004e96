"""Refit the confidence of the memory's near synonyms (distance 1) on rated rounds.

Version 17 fitted the memory's d1 confidence on dev17 (43 words kept): in
effect one value for every word written for the same element word in another
scene (0.6-0.7), whatever the scene or how many writers gave it. Rounds 15-22
(reported, so development data now) rated 600 d1 KB words the memory holds
there. Read with the memory leaving each round's scenes out, raters accepted
68% of the words one same-word item holds, 79% of those two hold, 91% of those
three or more hold (15-21), and the words the encoder puts far from the element
least ("tray -> sheet", "woman -> homeowner", "girl -> maiden"). This script
reads the evidence of every such word written for the same element word
(546) as the miner does (the nearest items' share,
:class:`~evokegraph.ingest.written.Evidence`, and the word's cosine to the
element, the miner's ``sw``) and fits a logistic regression of the share of
raters who accepted it on the two; the coefficients go to
``evokegraph.ingest.contextual.MEMORY_CONFIDENCE_D1`` by hand. It prints the fit,
its log loss on each round left out of it against the shipped dev17 fit's, and
the acceptance of the words by fitted confidence. Reported in docs/content.md,
"Results". The shipped coefficients were fitted while the memory held 2,688
items (546 words); with version 29's 3,330 (rounds 19-22's scenes still left
out of their own round) a rerun reads 574 words and fits share 2.063, sw 2.888,
bias -1.733, again under the dev17 fit's log loss in 7 of 8 rounds.

Usage: python bench/fit_memory_d1.py
"""

from __future__ import annotations

import numpy as np
from fit_acceptance import rated_rows
from memory_support import kb_rows, round_memories

ROUNDS = tuple(f"round{i}" for i in range(15, 23))


def measure() -> list[dict]:
    """Every rated d1 KB word of :data:`ROUNDS` the memory holds at distance 1 for
    the same element word (the closest item holding it from ``SAME_ELEMENT``)."""
    from evokegraph.ingest.contextual import SAME_ELEMENT

    out = []
    for folder, enc, vocab, mems in round_memories(ROUNDS, (1,)):
        mem, name = mems[1], folder.name
        rows = kb_rows(folder)
        for caption, element, d, word, share, row in rated_rows(folder):
            if row not in rows or d != 1 or word not in vocab.index:
                continue
            ctx = enc.encode([" ".join(caption.split())])[0]
            wvec = enc.encode([element])[0]
            ev = mem.evidence(ctx, wvec, len(vocab.words))
            i = vocab.index[word]
            if ev.best[i] >= SAME_ELEMENT:  # written for this element word
                out.append(
                    {
                        "round": name,
                        "y": share,
                        "share": float(ev.share[i]),
                        "best": float(ev.best[i]),
                        "sw": float(vocab.emb[i] @ wvec),
                    }
                )
    return out


def fit(rows: list[dict]) -> tuple[float, float, float]:
    """(share, sw, bias) of a logistic regression on the raters' shares."""
    from sklearn.linear_model import LogisticRegression

    x = np.array([[r["share"], r["sw"]] for r in rows])
    y = np.array([r["y"] for r in rows])
    model = LogisticRegression(C=10.0).fit(
        np.repeat(x, 2, axis=0),
        np.tile([1, 0], len(x)),
        sample_weight=np.stack([y, 1 - y], 1).ravel(),
    )
    (share, sw), bias = model.coef_[0], model.intercept_[0]
    return float(share), float(sw), float(bias)


def predict(rows: list[dict], coef: tuple[float, float, float]) -> np.ndarray:
    share, sw, bias = coef
    z = np.array([share * r["share"] + sw * r["sw"] + bias for r in rows])
    return 1.0 / (1.0 + np.exp(-z))


def shipped(rows: list[dict]) -> np.ndarray:
    from evokegraph.ingest.contextual import MEMORY_CONFIDENCE

    best, share, bias = MEMORY_CONFIDENCE[1]
    z = np.array([best * r["best"] + share * r["share"] + bias for r in rows])
    return 1.0 / (1.0 + np.exp(-z))


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def main() -> None:
    rows = measure()
    y = np.array([r["y"] for r in rows])
    coef = fit(rows)
    print(
        f"{len(rows)} rated d1 words the memory holds for the same element word, accepted {y.mean():.0%}"
    )
    print(f"fitted: share {coef[0]:.3f}  sw {coef[1]:.3f}  bias {coef[2]:.3f}")
    print("log loss, each round left out of the fit (fitted / shipped):")
    for name in ROUNDS:
        test = [r for r in rows if r["round"] == name]
        if test:
            held = fit([r for r in rows if r["round"] != name])
            yt = np.array([r["y"] for r in test])
            print(
                f"  {name}: {len(test):3d} words  {log_loss(predict(test, held), yt):.3f}"
                f" / {log_loss(shipped(test), yt):.3f}"
            )
    p = predict(rows, coef)
    print("accepted, by fitted confidence:")
    for lo, hi in ((0.0, 0.5), (0.5, 0.6), (0.6, 0.7), (0.7, 0.8), (0.8, 1.01)):
        at = (p >= lo) & (p < hi)
        if at.any():
            print(
                f"  {lo:.1f}-{min(hi, 1.0):.1f}: {at.sum():4d} words, accepted {y[at].mean():.0%}"
            )


if __name__ == "__main__":
    main()
