"""dev21: can new sources fill the empty slots at distances 1 and 5? (a dev rating)

``sheet`` mines the 60 elements of ``rating_heldout14.jsonl`` (reported in round
14, so development data) with the contextual miner (version 20 made the rated
sheet; a later memory gives other words) reading its
memory of written associations without that file's scenes, and writes a blind
sheet (``bench/data/ratings/dev21``: ``sheet.csv`` for the raters, ``key.json``
kept apart) of, per element:

* distance 1: the words kept now, up to 3 WordNet *sisters* of the scene's
  sense (other hyponyms of its hypernyms, common words, by cosine to the
  element) and its most frequent direct hypernym;
* distance 5: the words kept now and up to 3 memory words under the floor
  (confidence 0.25-0.5);
* one reference word and one word written for another scene per distance.

``report`` prints the share of raters who accepted each source and band, and
the words distance 5 would gain from a fill floor of 0.35 (an element's first
word only, where it has none). Never a reported figure.

Usage: python bench/dev21.py report
       python bench/dev21.py sheet   (rewrites the sheet: only before rating)
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import tempfile
from collections import defaultdict
from importlib import resources
from typing import Any

import numpy as np
from fit_acceptance import DATA
from fit_written import rater_votes

FOLDER = DATA / "ratings" / "dev21"
REF = DATA / "rating_heldout14.jsonl"
MIN_ZIPF = 3.0


def _sisters(sense: Any, word: str) -> list[str]:
    from wordfreq import zipf_frequency

    from evokegraph.ingest.contextual import near_duplicate

    out = set()
    for h in sense.hypernyms() + sense.instance_hypernyms():
        for s in h.hyponyms():
            for lem in s.lemmas() if s != sense else ():
                w = lem.name().lower()
                if "_" in w or "-" in w or near_duplicate(w, word):
                    continue
                if zipf_frequency(w, "en") >= MIN_ZIPF:
                    out.add(w)
    return sorted(out)


def _hypernym(sense: Any, word: str) -> str | None:
    from wordfreq import zipf_frequency

    names = sorted({lem.name().lower() for h in sense.hypernyms() for lem in h.lemmas()} - {word})
    names = [w for w in names if "_" not in w and zipf_frequency(w, "en") >= MIN_ZIPF]
    return max(names, key=lambda w: zipf_frequency(w, "en")) if names else None


def sheet() -> None:
    import evokegraph.ingest.contextual as contextual
    from evokegraph.ingest.caption_text import CaptionTextExtractor
    from evokegraph.ingest.written import WRITTEN_FILE

    items = [json.loads(x) for x in REF.read_text().splitlines() if x.strip()]
    held = {it["caption"] for it in items}
    memory = resources.files("evokegraph.data") / WRITTEN_FILE  # the installed memory
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        f.writelines(
            x + "\n"
            for x in memory.read_text(encoding="utf-8").splitlines()
            if json.loads(x)["caption"] not in held
        )
    keep = contextual.kept
    contextual.kept = lambda taken, d: list(taken)[:8]  # type: ignore[assignment]
    miner = contextual.ContextualMiner(written=f.name)
    enc, _ = miner._models()
    extractor = CaptionTextExtractor(tagger="spacy")
    by_caption: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for it in items:
        by_caption[it["caption"]].append(it)
    key: list[dict[str, Any]] = []
    for cap in sorted(by_caption):
        els = extractor.extract_one([cap]).elements  # type: ignore[union-attr]
        evs = miner.mine_one(els, cap)
        ctx = enc.encode([cap])[0]
        for it in by_caption[cap]:
            el = next((e for e in els if e.concept == it["word"]), None) or next(
                (e for e in els if " " in e.concept and e.concept.split()[-1] == it["word"]), None
            )  # "ice rink" for rink
            if el is None:
                continue
            other = items[(items.index(it) + 17) % len(items)]
            if other["caption"] == cap:
                other = items[(items.index(it) + 19) % len(items)]
            wv = enc.encode([el.concept])[0]
            for d in (1, 5):
                taken = sorted(
                    (
                        (e.concept, "x", e.score)
                        for e in evs
                        if e.element == el.concept and e.distance == d
                    ),
                    key=lambda t: -t[2],
                )
                words: dict[str, dict[str, Any]] = {
                    w: {"source": "kept", "conf": c} for w, _, c in keep(taken, d)
                }
                if d == 1:
                    _near_candidates(miner, el, ctx, wv, words)
                else:
                    _below_floor(taken, words)
                for w, src in ((it["d"][str(d)][0], "reference"), (other["d"][str(d)][0], "other")):
                    words.setdefault(w, {"source": src})
                key += [
                    {"caption": cap, "element": it["word"], "distance": d, "word": w, **v}
                    for w, v in words.items()
                ]
    random.Random(211).shuffle(key)
    _write(key)


def _near_candidates(miner: Any, el: Any, ctx: Any, wv: Any, words: dict[str, Any]) -> None:
    """Distance 1's trial words: up to 3 sisters of the scene's sense, its hypernym."""
    import evokegraph.ingest.contextual as contextual

    enc, _ = miner._models()
    pos = contextual._POS_CODE.get(el.pos, "n")
    chosen = contextual.context_sense(el.concept, pos, ctx, enc, miner._sense_cache)
    if not chosen or pos not in ("n", "v"):
        return
    names = _sisters(chosen[0], el.concept)
    cos = enc.encode(names) @ wv if names else np.zeros(0)
    for i in np.argsort(-cos, kind="stable")[:3]:
        if names[i] not in words and cos[i] >= 0.3:
            words[names[i]] = {"source": "sister", "cos": round(float(cos[i]), 3)}
    h = _hypernym(chosen[0], el.concept)
    if h and h not in words:
        words[h] = {"source": "hypernym", "cos": round(float(enc.encode([h])[0] @ wv), 3)}


def _below_floor(taken: list[tuple[str, str, float]], words: dict[str, Any]) -> None:
    """Distance 5's trial words: up to 3 the miner computed at 0.25-0.5."""
    for w, _, c in taken:
        below = sum(v["source"] == "memory_below" for v in words.values())
        if w not in words and 0.25 <= c < 0.5 and below < 3:
            words[w] = {"source": "memory_below", "conf": c}


def _write(key: list[dict[str, Any]]) -> None:
    from evokegraph.levels import DISTANCE_NAMES, LEVEL_DEFINITIONS

    FOLDER.mkdir(parents=True, exist_ok=True)
    with (FOLDER / "sheet.csv").open("w", newline="") as out:
        wr = csv.writer(out)
        wr.writerow(
            ["row", "caption", "element", "distance", "level", "definition", "word", "accept"]
        )
        for i, k in enumerate(key, 1):
            k["row"] = f"q{i:04d}"
            d = k["distance"]
            wr.writerow(
                [k["row"], k["caption"], k["element"], d, DISTANCE_NAMES[d],
                 LEVEL_DEFINITIONS[d], k["word"], ""]
            )  # fmt: skip
    (FOLDER / "key.json").write_text(json.dumps(key, indent=0))
    print(f"{len(key)} rows in {FOLDER / 'sheet.csv'}")


def _band(k: dict[str, Any]) -> str:
    src = k["source"]
    if src == "sister":
        return "sister, cosine >= 0.5" if k["cos"] >= 0.5 else "sister, cosine < 0.5"
    if src == "hypernym":
        return "hypernym, cosine >= 0.45" if k["cos"] >= 0.45 else "hypernym, cosine < 0.45"
    if src == "memory_below":
        return "memory 0.35-0.5" if k["conf"] >= 0.35 else "memory 0.25-0.35"
    return str(src)


def report() -> None:
    key = json.loads((FOLDER / "key.json").read_text())
    votes = rater_votes(FOLDER)
    shares: dict[tuple[int, str], list[float]] = defaultdict(list)
    for k in key:
        shares[(k["distance"], _band(k))].append(float(np.mean(votes[k["row"]])))
    for (d, band), xs in sorted(shares.items()):
        print(f"d{d} {band:28s} {len(xs):3d} words, accepted {np.mean(xs):.0%}")
    per: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for k in key:
        if k["distance"] == 5:
            per[(k["caption"], k["element"])].append(k)
    fill = [
        max(
            (k for k in ks if k["source"] == "memory_below" and k["conf"] >= 0.35),
            key=lambda k: k["conf"],
        )
        for ks in per.values()
        if not any(k["source"] == "kept" for k in ks)
        and any(k["source"] == "memory_below" and k["conf"] >= 0.35 for k in ks)
    ]
    acc = [float(np.mean(votes[k["row"]])) for k in fill]
    print(
        f"d5 fill from 0.35: {len(fill)} of {len(per)} elements gain a word, "
        f"accepted {np.mean(acc):.0%}"
        if fill
        else "d5 fill from 0.35: no element gains a word"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("command", choices=("report", "sheet"))
    args = ap.parse_args()
    sheet() if args.command == "sheet" else report()


if __name__ == "__main__":
    main()
