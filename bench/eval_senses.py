"""How often the contextual miner reads an element in the sense its scene means.

``bench/data/senses_gold.jsonl`` holds hand-chosen WordNet senses for 677
target words of tuning and reported held-out scenes (``rating_heldout10-18``:
split "tune"; ``dev_scenes17-22``: split "test"), every word with two or more
senses: two annotator sessions chose the sense each caption means from the
word's WordNet senses (agreeing on 678 of 683; the 5 disagreements and 1
"none" are left out). For each item this runs the ``caption-text`` extractor
on the caption, and where it finds the word as an element,
:func:`~evokegraph.ingest.contextual.context_sense` with the miner's encoder;
it prints the share of items whose chosen sense is the gold one, beside
WordNet's first sense in the element's part of speech (the most frequent).
Items whose gold sense is of another part of speech than the element's count
as wrong for both. Reported figures: docs/content.md, "Known weak spots".

Usage: python bench/eval_senses.py
"""

from __future__ import annotations

import json
from collections import defaultdict

from fit_acceptance import DATA

GOLD = DATA / "senses_gold.jsonl"
POS = {"NOUN": "n", "VERB": "v", "ADJ": "a"}


def main() -> None:
    import torch

    torch.set_num_threads(1)
    from evokegraph.ingest.caption_text import CaptionTextExtractor
    from evokegraph.ingest.contextual import SENSES, ContextualMiner, context_sense
    from evokegraph.lexicons.wordnet import wordnet

    extractor = CaptionTextExtractor()
    extractor.load()
    miner = ContextualMiner()
    enc, _ = miner._models()
    wn = wordnet()
    hits: dict[str, list[tuple[int, int]]] = defaultdict(list)
    elements: dict[str, list] = {}
    for line in GOLD.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        caption = item["caption"]
        if caption not in elements:
            found = extractor.extract_one([caption])
            elements[caption] = list(getattr(found, "elements", []))
        el = [e for e in elements[caption] if e.concept == item["word"]]
        if not el:
            continue
        pos = POS.get(el[0].pos, "n")
        senses = wn.synsets(item["word"].replace(" ", "_"), pos)[:SENSES]
        if len(senses) < 2:
            continue
        ctx = enc.encode([" ".join(caption.split())])[0]
        chosen = context_sense(item["word"], pos, ctx, enc, miner._sense_cache)
        got = int(chosen is not None and chosen[0].name() == item["sense"])
        hits[item["split"]].append((got, int(senses[0].name() == item["sense"])))
    print("| split | items | context_sense | first sense |")
    print("|---|---|---|---|")
    for split in sorted(hits):
        rows = hits[split]
        n = len(rows)
        print(
            f"| {split} | {n} | {100 * sum(g for g, _ in rows) / n:.0f}% "
            f"| {100 * sum(f for _, f in rows) / n:.0f}% |"
        )


if __name__ == "__main__":
    main()
