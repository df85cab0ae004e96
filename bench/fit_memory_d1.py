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

Version 33 refits it on rounds 15-26 (1,020 words; rounds 22-26's raters were
stricter) with two more terms from WordNet: whether the word is one of the
element's context sense's own lemmas (``syn``) and whether it is a lemma, kind or
similar word of that sense (``linked``, the miner's ``wn1``). It prints that fit,
each round's log loss left out of it against the same refit without the WordNet
terms, and the acceptance by fitted confidence.

Usage: python bench/fit_memory_d1.py
"""

from __future__ import annotations

import numpy as np
from fit_acceptance import rated_rows
from memory_support import kb_rows, round_memories

ROUNDS = tuple(f"round{i}" for i in range(15, 27))
FEATURES = ("share", "sw", "syn", "linked")  # MEMORY_CONFIDENCE_D1's order, then the bias
PLAIN = ("share", "sw")  # version 28's terms


def measure() -> list[dict]:
    """Every rated d1 KB word of :data:`ROUNDS` the memory holds at distance 1 for
    the same element word (the closest item holding it from ``SAME_ELEMENT``)."""
    from evokegraph.ingest.caption_text import CaptionTextExtractor
    from evokegraph.ingest.contextual import SAME_ELEMENT, SYNONYMS, context_sense, sense_related

    extractor = CaptionTextExtractor()
    tags: dict[str, dict[str, str]] = {}  # caption -> element -> WordNet POS code
    senses: dict = {}  # context_sense's cache
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
            if ev.best[i] < SAME_ELEMENT:  # written for another element word
                continue
            if caption not in tags:
                found = extractor.extract_one([caption]).elements
                tags[caption] = {
                    e.concept: {"VERB": "v", "ADJ": "a"}.get(e.pos, "n") for e in found
                }
            chosen = context_sense(element, tags[caption].get(element, "n"), ctx, enc, senses)
            related = sense_related(chosen[0]) if chosen else {}
            lemmas = {k: {w.lower() for w in related.get(k, [])} for k in (SYNONYMS, 1)}
            out.append(
                {
                    "round": name,
                    "y": share,
                    "share": float(ev.share[i]),
                    "best": float(ev.best[i]),
                    "sw": float(vocab.emb[i] @ wvec),
                    "syn": float(word in lemmas[SYNONYMS]),
                    "linked": float(word in lemmas[1]),
                }
            )
    return out


def fit(rows: list[dict], features: tuple[str, ...] = FEATURES) -> tuple[float, ...]:
    """The coefficients of ``features``, then the bias, of a logistic regression on
    the raters' shares."""
    from sklearn.linear_model import LogisticRegression

    x = np.array([[r[f] for f in features] for r in rows])
    y = np.array([r["y"] for r in rows])
    model = LogisticRegression(C=10.0).fit(
        np.repeat(x, 2, axis=0),
        np.tile([1, 0], len(x)),
        sample_weight=np.stack([y, 1 - y], 1).ravel(),
    )
    return (*(float(c) for c in model.coef_[0]), float(model.intercept_[0]))


def predict(
    rows: list[dict], coef: tuple[float, ...], features: tuple[str, ...] = FEATURES
) -> np.ndarray:
    z = np.array(
        [sum(c * r[f] for c, f in zip(coef, features, strict=False)) + coef[-1] for r in rows]
    )
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
    print(
        "fitted: "
        + "  ".join(f"{f} {c:.3f}" for f, c in zip((*FEATURES, "bias"), coef, strict=True))
    )
    for f in ("syn", "linked"):
        at = np.array([r[f] for r in rows]) > 0
        print(
            f"  {f}: {at.sum()} words accepted {y[at].mean():.0%}; the others {y[~at].mean():.0%}"
        )
    print("log loss, each round left out of the fit (with WordNet's terms / without):")
    for name in ROUNDS:
        test = [r for r in rows if r["round"] == name]
        if test:
            train = [r for r in rows if r["round"] != name]
            yt = np.array([r["y"] for r in test])
            full = log_loss(predict(test, fit(train)), yt)
            plain = log_loss(predict(test, fit(train, PLAIN), PLAIN), yt)
            print(f"  {name}: {len(test):3d} words  {full:.3f} / {plain:.3f}")
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
