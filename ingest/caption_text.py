"""The ``caption-text`` element extractor: the published method's step 1, offline.

From the image's literal caption(s): keep content words (nouns, verbs,
adjectives; no stopwords), lemmatise, rank by Brysbaert concreteness (ties:
more captions mention it, then first mention), keep the top ``top_k``. The
reference takes one caption; with several, a word's ``saliency`` blends how
many captions mention it with its concreteness. The context (description) is
the captions themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evokegraph.ingest.concreteness import concreteness
from evokegraph.ingest.stages import EXTRACTORS, Extraction, Failed, ImageItem
from evokegraph.ingest.text import content_words
from evokegraph.records import Element, concept_key

NO_CAPTION = "no caption; use --extractor vlm (or give captions with --captions)"


class CaptionTextExtractor:
    """Salient elements from literal captions, ranked by concreteness."""

    name = "caption-text"

    def __init__(self, top_k: int = 5) -> None:
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        self.top_k = top_k

    def settings(self) -> dict[str, Any]:
        return {"top_k": self.top_k, "norms": "brysbaert2014", "tagger": "wordnet-heuristic-1"}

    def extract_one(self, captions: Sequence[str]) -> Extraction | Failed:
        captions = [c for c in captions if c.strip()]
        if not captions:
            return Failed(NO_CAPTION)
        seen: dict[str, dict[str, Any]] = {}
        order = 0
        for cap in captions:
            mentioned: set[str] = set()
            for tok in content_words(cap):
                key = concept_key(tok.lemma)
                entry = seen.setdefault(
                    key, {"name": tok.text, "pos": tok.pos, "captions": 0, "first": order}
                )
                order += 1
                if key not in mentioned:
                    entry["captions"] += 1
                    mentioned.add(key)
        if not seen:
            return Failed("caption has no content words (nouns, verbs, adjectives)")
        ranked = sorted(
            seen.items(),
            key=lambda kv: (-concreteness(kv[0]), -kv[1]["captions"], kv[1]["first"]),
        )[: self.top_k]
        elements = [
            Element(
                name=v["name"],
                concept=k,
                pos=v["pos"],
                rank=r,
                saliency=round(0.5 * v["captions"] / len(captions) + 0.1 * concreteness(k), 4),
            )
            for r, (k, v) in enumerate(ranked)
        ]
        return Extraction(description=" ".join(captions), elements=elements)

    def extract(self, items: Sequence[ImageItem]) -> list[Extraction | Failed]:
        return [self.extract_one(it.record.captions) for it in items]


EXTRACTORS.add("caption-text", CaptionTextExtractor, "elements from literal captions (offline)")
