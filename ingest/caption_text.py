"""The ``caption-text`` element extractor: the published method's step 1, offline.

From the image's literal caption(s): keep content words (nouns, verbs,
adjectives; no stopwords), lemmatised, and rank them. The reference ranks one
caption's words by Brysbaert concreteness and keeps the 5 most concrete; that
drops the main subject when it is a less concrete word ("woman", "admiral").
Here each word's ``saliency`` blends its role in the caption's parse (subject
first), how many captions mention it, and its concreteness; ``rank`` is the
order of saliency (rank 0 = most salient), and a caption's subject is always
kept. The context (description) is the captions themselves.

Tagging uses the real spaCy ``en_core_web_sm`` pipeline (extra
``evokegraph[content]``); without spaCy, ``tagger="auto"`` falls back to the
WordNet heuristic tagger of :mod:`evokegraph.ingest.text` (roles then come
from word order only), and the settings say which tagger ran.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from evokegraph.errors import UserInputError
from evokegraph.ingest.options import CaptionTextOptions
from evokegraph.ingest.stages import EXTRACTORS, Extraction, ImageItem
from evokegraph.ingest.text import STOPWORDS, content_words
from evokegraph.lexicons.concreteness import concreteness, rating
from evokegraph.records import Element, concept_key
from evokegraph.runs import Failed

NO_CAPTION = (
    "no caption; give captions (sidecar .txt, --captions FILE) or point --vlm at a "
    "vision-language model (--extractor vlm)"
)
TAGGERS = ("auto", "spacy", "heuristic")
ROLE_WEIGHT, MENTION_WEIGHT, CONCRETENESS_WEIGHT = 0.5, 0.3, 0.2
KEEP_ROLE = 0.9  # words with at least this role (a caption's subject) are always kept
RESERVE_MIN_TOP_K = 4  # an adjective and a verb get a reserved place from this many elements


@dataclass
class _Seen:
    name: str
    pos: str
    role: float
    first: int
    captions: set[int] = field(default_factory=set)


def _heuristic_candidates(caption: str) -> list[tuple[str, str, str, float, int]]:
    """(lemma, text, pos, role, position) from the WordNet heuristic tagger: the
    first noun stands in for the subject."""
    out, subject_seen = [], False
    for i, tok in enumerate(content_words(caption)):
        role = 0.35 if tok.pos == "ADJ" else 0.45 if tok.pos == "VERB" else 0.6
        if tok.pos == "NOUN" and not subject_seen:
            role, subject_seen = 1.0, True
        out.append((tok.lemma, tok.text, tok.pos, role, i))
    return out


def _vividness(word: str, pos: str) -> float:
    """0..1: concreteness for nouns and verbs (the method keeps the most
    concrete words); for adjectives its opposite, so "lonely" and "tired" rank
    above "white" (an adjective that says how the scene is), and 0 for one of
    size or number ("small", "tall")."""
    c = (element_concreteness(word, pos) - 1) / 4
    if pos == "ADJ":
        return 0.0 if _dimension(word) else 1.0 - c
    return c


HYPERNYM_LEVELS = 2  # how far up an unrated noun looks for a rated kind of thing


def element_concreteness(word: str, pos: str) -> float:
    """The word's concreteness rating; for a noun Brysbaert did not rate, that of
    the nearest rated word it is a kind of (WordNet's first sense, up to
    :data:`HYPERNYM_LEVELS` up: a laundromat is a laundry, a bonsai a tree, a
    churchyard a yard), so an unrated thing is not taken for an abstraction
    (:data:`~evokegraph.lexicons.concreteness.UNKNOWN`)."""
    found = rating(word)
    if found is not None or pos != "NOUN":
        return found if found is not None else concreteness(word)
    from evokegraph.lexicons.wordnet import WordNetMissingError, wordnet

    try:
        senses = wordnet().synsets(word.replace(" ", "_"), "n")
    except WordNetMissingError:
        return concreteness(word)
    level = senses[:1]
    for _ in range(HYPERNYM_LEVELS):
        level = [h for s in level for h in s.hypernyms()]
        for s in level:
            for lem in s.lemmas():
                found = rating(lem.name())
                if found is not None:
                    return found
    return concreteness(word)


DIMENSIONS = frozenset(["size", "magnitude", "length", "height", "width", "breadth", "number"])


def _dimension(adjective: str) -> bool:
    """True for an adjective of size or number ("small", "tall", "many"):
    WordNet links its senses to those attributes."""
    from evokegraph.lexicons.wordnet import WordNetMissingError, wordnet

    try:
        senses = wordnet().synsets(adjective, "a")
    except WordNetMissingError:
        return False
    heads = [h for s in senses[:3] for h in ([s] if s.attributes() else s.similar_tos())]
    return any(  # a satellite ("huge", "tiny") by its head adjective ("large", "small")
        lem.name() in DIMENSIONS for s in heads for a in s.attributes() for lem in a.lemmas()
    )


def _keep_each_pos(
    kept: list[str], order: list[str], seen: dict[str, _Seen], top_k: int
) -> list[str]:
    """The method's elements are nouns, verbs and adjectives: where the caption
    has an adjective or a verb and none was kept ("a tired nurse", "an empty
    street"), one takes the place of the least salient noun that is not a
    subject, as long as :data:`RESERVE_MIN_TOP_K` elements are kept (three
    nouns first). The adjective is the least concrete one ("lonely" before
    "small": the one that says how the scene is, not its size or colour); the
    verb the most salient."""
    if top_k < RESERVE_MIN_TOP_K:
        return kept
    kept = list(kept)
    for pos in ("ADJ", "VERB"):
        if any(seen[k].pos == pos for k in kept):
            continue
        pick = [k for k in order if seen[k].pos == pos and k not in kept]
        if pos == "ADJ":  # how the scene is, before its size ("misty" before "small")
            pick.sort(key=lambda k: (_dimension(k), concreteness(k), order.index(k)))
        best = pick[0] if pick else None
        if best is None or (pos == "ADJ" and _dimension(best)):
            continue  # a size ("a huge wave", "a little boy") takes no noun's place
        if len(kept) < top_k:
            kept.append(best)
            continue
        loser = next(
            (x for x in reversed(kept) if seen[x].pos == "NOUN" and seen[x].role < KEEP_ROLE), None
        )
        if loser is not None and sum(seen[x].pos == "NOUN" for x in kept) > 1:
            kept[kept.index(loser)] = best
    return kept


class CaptionTextExtractor:
    """Salient elements from literal captions: subject first, then concreteness."""

    name = "caption-text"

    def __init__(self, top_k: int = 5, tagger: str = "auto") -> None:
        if top_k < 1:
            raise UserInputError(f"top_k must be >= 1, got {top_k}")
        if tagger not in TAGGERS:
            raise UserInputError(f"unknown tagger {tagger!r}; use one of {', '.join(TAGGERS)}")
        from evokegraph.ingest.spacy_text import spacy_available

        if tagger == "auto":
            tagger = "spacy" if spacy_available() else "heuristic"
        elif tagger == "spacy" and not spacy_available():
            from evokegraph.ingest.spacy_text import INSTALL_HINT

            raise UserInputError(f"--tagger spacy needs spaCy and en_core_web_sm; {INSTALL_HINT}")
        self.options = CaptionTextOptions(top_k=top_k, tagger=tagger)  # type: ignore[arg-type]
        self.top_k = top_k
        self.tagger = tagger  # the one resolved: keyed in its derived form

    def settings(self) -> dict[str, Any]:
        tagger = "spacy-en_core_web_sm-3.8" if self.tagger == "spacy" else "wordnet-heuristic-1"
        # 6: a word lemminflect lists among its own lemmas stays itself ("chili");
        # 7: a verb or adjective WordNet knows only as a noun is a noun ("geese" -> goose),
        # an adjective WordNet knows as itself keeps its form ("folding", not "fold");
        # 8: "leaves" -> leaf, "bonsai" stays bonsai, a past participle modifying a noun
        # is an adjective ("injured"), "farmers harvesting pumpkins" -> harvest (a verb),
        # an unrated noun as concrete as what it is a kind of, no reserved place for a size
        return self.options.settings(8, norms="brysbaert2014", tagger=tagger)

    def load(self, progress: Any = None) -> None:
        """Load the tagger and the lexicons now (a Ray actor as it starts, the runner
        before its first batch): one caption through every step (~5 s cold)."""
        self.extract_one(["a small red tree by the river"])

    def _candidates(self, caption: str) -> list[tuple[str, str, str, float, int]]:
        if self.tagger == "spacy":
            from evokegraph.ingest.spacy_text import candidates

            return [
                (c.lemma, c.text, c.pos, c.role, c.position) for c in candidates(caption, STOPWORDS)
            ]
        return _heuristic_candidates(caption)

    def extract_one(self, captions: Sequence[str]) -> Extraction | Failed:
        captions = [c for c in captions if c.strip()]
        if not captions:
            return Failed(NO_CAPTION)
        seen: dict[str, _Seen] = {}
        for ci, cap in enumerate(captions):
            for lemma, text, pos, role, position in self._candidates(cap):
                key = concept_key(lemma)
                entry = seen.setdefault(key, _Seen(text, pos, role, ci * 1000 + position))
                entry.role = max(entry.role, role)
                entry.captions.add(ci)
        if not seen:
            return Failed("caption has no content words (nouns, verbs, adjectives)")
        score = {
            k: round(
                ROLE_WEIGHT * v.role
                + MENTION_WEIGHT * len(v.captions) / len(captions)
                + CONCRETENESS_WEIGHT * _vividness(k, v.pos),
                4,
            )
            for k, v in seen.items()
        }
        order = sorted(seen, key=lambda k: (-score[k], seen[k].first, k))
        kept = order[: self.top_k]
        for k in order[self.top_k :]:  # a subject never drops out for a more concrete word
            if seen[k].role >= KEEP_ROLE and len(kept) >= 1:
                loser = next((x for x in reversed(kept) if seen[x].role < KEEP_ROLE), None)
                if loser is not None:
                    kept.remove(loser)
                    kept.append(k)
        kept = _keep_each_pos(kept, order, seen, self.top_k)
        kept.sort(key=lambda k: (-score[k], seen[k].first, k))
        elements = [
            Element(name=seen[k].name, concept=k, pos=seen[k].pos, rank=r, saliency=score[k])  # type: ignore[arg-type]
            for r, k in enumerate(kept)
        ]
        return Extraction(description=" ".join(captions), elements=elements)

    def extract(self, items: Sequence[ImageItem]) -> list[Extraction | Failed]:
        return [self.extract_one(it.record.captions) for it in items]


EXTRACTORS.add("caption-text", CaptionTextExtractor, "elements from literal captions (offline)")
