"""How far WordNet carries distances 1 and 2, and what raters make of each kind of word.

Part 1, acceptance by relation: every KB word rated at distance 1 or 2 in the
filed rounds (``bench/data/ratings/roundNN``, every key of a round, each word
once), classified by its WordNet relation to the element's sense in its scene
(:func:`~evokegraph.ingest.contextual.context_sense`, the sense the miner reads):
one of the sense's own lemmas, a similar word (an adjective's similar-to, a
verb's verb group), a kind (hyponym, two levels), a category (hypernym, three
levels, or an adjective's attribute noun), a sister (another kind of its
category), a word of another sense of the element, or none. It prints the share
of raters who accepted each class, per distance.

Part 2, the ceiling: for every element the caption-text extractor keeps in the
held-out scenes (``rating_heldoutNN.jsonl``), how many words WordNet offers in
each class, as common as the miner's vocabulary (Zipf >= 3, the element's own
word left out); the share of elements with 2 or more own lemmas or similar
words (what raters accept as near synonyms) and with 2 or more categories or
attribute nouns (WordNet's most general nodes left out, as the miner does).

Usage: python bench/near_ceiling.py [--rounds 26-33]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data"
CLASSES = ("own", "similar", "kind", "category", "sister", "other sense", "none")
MIN_ZIPF = 3.0


def _names(synsets: Any) -> set[str]:
    return {lem.name().replace("_", " ").lower() for s in synsets for lem in s.lemmas()}


def relations(sense: Any) -> dict[str, set[str]]:
    """The words of each class for one sense (see the module's docstring)."""
    from evokegraph.ingest.contextual import _general, attributes

    up = [h for h in sense.closure(lambda x: x.hypernyms(), depth=3) if not _general(h)]
    return {
        "own": _names([sense]),
        "similar": _names([*sense.similar_tos(), *sense.verb_groups()]),
        "kind": _names(sense.closure(lambda x: x.hyponyms(), depth=2)),
        "category": _names([*up, *attributes(sense)]),
        "sister": _names([k for h in sense.hypernyms() for k in h.hyponyms() if k != sense]),
    }


class Senses:
    """The element's sense in its scene, as the miner picks it (cached per scene)."""

    def __init__(self) -> None:
        from evokegraph.ingest.caption_text import CaptionTextExtractor
        from evokegraph.models.text_encoder import load_text_encoder

        self.enc = load_text_encoder()
        self.extractor = CaptionTextExtractor()
        self.cache: dict[str, Any] = {}
        self.ctx: dict[str, Any] = {}
        self.pos: dict[str, dict[str, str]] = {}

    def elements(self, caption: str) -> dict[str, str]:
        if caption not in self.pos:
            out = self.extractor.extract_one([caption])
            self.pos[caption] = {e.concept: e.pos for e in getattr(out, "elements", [])}
        return self.pos[caption]

    def sense(self, caption: str, word: str, pos: str) -> Any:
        from evokegraph.ingest.contextual import context_sense

        if caption not in self.ctx:
            self.ctx[caption] = self.enc.encode([caption])[0]
        code = {"NOUN": "n", "VERB": "v", "ADJ": "a"}.get(pos, "n")
        found = context_sense(word, code, self.ctx[caption], self.enc, self.cache)
        return found[0] if found else None


def classify(word: str, element: str, sense: Any, code: str) -> str:
    from evokegraph.lexicons.wordnet import wordnet

    w = word.lower()
    if sense is not None:
        rel = relations(sense)
        for c in CLASSES[:5]:
            if w in rel[c]:
                return c
    others = [s for s in wordnet().synsets(element.replace(" ", "_"), code) if s != sense]
    if any(w in set().union(*relations(s).values()) for s in others):
        return "other sense"
    return "none"


def acceptance(senses: Senses, rounds: list[int]) -> None:
    from fit_acceptance import rated_rows

    shares: dict[tuple[int, str], list[float]] = defaultdict(list)
    for n in rounds:
        folder = DATA / "ratings" / f"round{n}"
        if not folder.is_dir():
            continue
        kb: set[tuple[str, str, int, str]] = set()
        for key in sorted(folder.glob("key*.json")):
            for it in json.loads(key.read_text()).get("items", []):
                for d in (1, 2):
                    for w in it["kb_words"].get(str(d), []):
                        kb.add((it["caption"], it["element"], d, w))
        seen: set[tuple[str, str, int, str]] = set()
        for caption, element, d, word, share, _ in rated_rows(folder):
            k = (caption, element, d, word)
            if d not in (1, 2) or k not in kb or k in seen:
                continue
            seen.add(k)
            pos = senses.elements(caption).get(element, "NOUN")
            code = {"NOUN": "n", "VERB": "v", "ADJ": "a"}[pos]
            c = classify(word, element, senses.sense(caption, element, pos), code)
            shares[(d, c)].append(share)
    print(f"Part 1: KB words rated in rounds {rounds[0]}-{rounds[-1]}, share of raters accepting")
    print("| class | d1 words | d1 accepted | d2 words | d2 accepted |")
    print("|---|---|---|---|---|")
    for c in CLASSES:
        cells = []
        for d in (1, 2):
            ys = shares.get((d, c), [])
            cells += [str(len(ys)), f"{100 * sum(ys) / len(ys):.0f}%" if ys else ""]
        print(f"| {c} | " + " | ".join(cells) + " |")


def ceiling(senses: Senses, rounds: list[int]) -> None:
    from evokegraph.lexicons.frequency import zipf_frequency as zipf

    counts: dict[str, list[dict[str, int]]] = defaultdict(list)
    for n in rounds:
        path = DATA / f"rating_heldout{n}.jsonl"
        if not path.exists():
            continue
        captions = list(dict.fromkeys(json.loads(x)["caption"] for x in path.open()))
        for caption in captions:
            for element, pos in sorted(senses.elements(caption).items()):
                sense = senses.sense(caption, element, pos)
                rel = relations(sense) if sense is not None else {c: set() for c in CLASSES[:5]}
                own = {element, element.replace(" ", "")}
                counts[pos].append(
                    {c: len({w for w in ws - own if zipf(w) >= MIN_ZIPF}) for c, ws in rel.items()}
                )
    print(f"\nPart 2: elements of the held-out scenes of rounds {rounds[0]}-{rounds[-1]}")
    print("| part of speech | elements | >= 2 own or similar | >= 1 | >= 2 categories | >= 1 |")
    print("|---|---|---|---|---|---|")
    everything = [x for xs in counts.values() for x in xs]
    for pos, xs in [*sorted(counts.items()), ("all", everything)]:
        near = [x["own"] + x["similar"] for x in xs]
        cat = [x["category"] for x in xs]

        def pct(vals: list[int], k: int, m: int = len(xs)) -> str:
            return f"{100 * sum(v >= k for v in vals) / m:.0f}%"

        print(
            f"| {pos} | {len(xs)} | {pct(near, 2)} | {pct(near, 1)} | {pct(cat, 2)} | {pct(cat, 1)} |"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", default="26-33", help="first-last round (default 26-33)")
    a = p.parse_args()
    first, last = (int(x) for x in a.rounds.split("-"))
    rounds = list(range(first, last + 1))
    sys.path.insert(0, str(ROOT / "bench"))
    senses = Senses()
    acceptance(senses, rounds)
    ceiling(senses, rounds)


if __name__ == "__main__":
    main()
