"""The ``lexical`` association miner: an offline baseline on WordNet + concreteness.

For each salient element it picks the WordNet sense that fits the image's
context (the other elements and the captions), gathers candidates at five
distances and ranks them by relatedness to that context:

1. near synonym: the sense's other lemmas, its direct hyponyms, similar
   adjectives, verb groups;
2. slight abstraction: hypernyms one and two levels up;
3. broader context: sister terms, parts and wholes, topic domains,
   entailments and causes, concrete nouns of the definition;
4. conceptual association and 5. full abstraction: less concrete ideas
   further out (higher hypernyms, abstract nouns in the definitions of the
   sense and its relatives, attributes, abstract derived forms), split by
   Brysbaert concreteness: the more concrete half at 4, the rest at 5.

It is a lexical baseline, not a model of creative association: the LLM miner
(``--miner llm``) is where creative, image-grounded associations come from.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from evokegraph.errors import UserInputError
from evokegraph.ingest.options import LexicalOptions
from evokegraph.ingest.stages import MINERS, MiningInput, mine_each
from evokegraph.ingest.text import STOPWORDS, content_words, tokenize
from evokegraph.levels import DISTANCES
from evokegraph.lexicons.concreteness import UNKNOWN, concreteness, rating
from evokegraph.lexicons.wordnet import wordnet
from evokegraph.records import Element, Evocation, concept_key
from evokegraph.runs import Failed

_POS = {"NOUN": "n", "VERB": "v", "ADJ": "a", "ADV": "r"}
_POS_BACK = {"n": "NOUN", "v": "VERB", "a": "ADJ", "s": "ADJ", "r": "ADV"}
# Upper ontology: too generic to be an association of anything.
_GENERIC = frozenset(
    [
        "entity",
        "physical_entity",
        "abstraction",
        "abstract_entity",
        "object",
        "whole",
        "thing",
        "matter",
        "physical_object",
        "unit",
        "artifact",
        "artefact",
        "living_thing",
        "organism",
        "being",
        "causal_agent",
        "cause",
        "psychological_feature",
        "attribute",
        "relation",
        "group",
        "grouping",
        "measure",
        "instrumentality",
        "act",
        "human_action",
        "human_activity",
        "event",
        "state",
    ]
)
MAX_SENSES = 6
# Each distance aims this much lower on the 1..5 concreteness scale than the
# previous one; candidates above the aim are penalised by PENALTY per point.
CONCRETENESS_STEP = 0.5
CONCRETENESS_PENALTY = 0.4
UNRATED_PENALTY = 0.2


def _word(lemma_name: str) -> str:
    return lemma_name.replace("_", " ").lower()


def _near_duplicate(a: str, b: str) -> bool:
    if a == b or a in b.split() or b in a.split():
        return True
    short, long_ = sorted((a, b), key=len)
    return len(short) >= 4 and long_.startswith(short[: max(4, len(short) - 2)])


@lru_cache(maxsize=200_000)
def _sim(a: Any, b: Any) -> float:
    """Relatedness of two synsets in [0, 1] (Wu-Palmer where defined)."""
    if a.pos() in ("n", "v") and a.pos() == b.pos():
        return a.wup_similarity(b) or 0.0
    ga = {w for w in tokenize(a.definition()) if w not in STOPWORDS}
    gb = {w for w in tokenize(b.definition()) if w not in STOPWORDS}
    names = {_word(n) for n in b.lemma_names()} | {_word(n) for n in a.lemma_names()}
    overlap = len(ga & gb) + len(ga & names) + len(gb & names)
    return min(1.0, overlap / 4)


class Context:
    """The image's context: synsets of its other elements and caption words."""

    def __init__(self, words: Iterable[str]) -> None:
        wn = wordnet()
        self.words = sorted(set(words))
        self.synsets = [
            s
            for w in self.words
            for s in (
                wn.synsets(w.replace(" ", "_"), "n")[:2] or wn.synsets(w.replace(" ", "_"))[:2]
            )
        ]

    def relatedness(self, synset: Any) -> float:
        if not self.synsets:
            return 0.0
        best: dict[int, float] = {}
        for i, cs in enumerate(self.synsets):
            best[i] = max(best.get(i, 0.0), _sim(synset, cs))
        return sum(best.values()) / len(best)


def _lemma_count(synset: Any, word: str) -> int:
    return sum(lem.count() for lem in synset.lemmas() if _word(lem.name()) == word)


def choose_sense(word: str, pos: str, context: Context) -> Any | None:
    """The sense of ``word`` that best fits the context (frequency as a prior)."""
    wn = wordnet()
    senses = (
        wn.synsets(word.replace(" ", "_"), _POS.get(pos, "n"))[:MAX_SENSES]
        or wn.synsets(word.replace(" ", "_"))[:MAX_SENSES]
    )
    if not senses:
        return None
    return max(
        enumerate(senses),
        key=lambda iv: (
            context.relatedness(iv[1]) + 0.05 * math.log1p(_lemma_count(iv[1], word)) - 0.01 * iv[0]
        ),
    )[1]


def _lemmas(synsets: Iterable[Any]) -> list[tuple[str, Any]]:
    return [(_word(n), s) for s in synsets for n in s.lemma_names()]


def _gloss_nouns(synsets: Iterable[Any]) -> list[tuple[str, Any]]:
    wn = wordnet()
    out = []
    for s in synsets:
        for tok in content_words(s.definition()):
            if tok.pos == "NOUN":
                senses = wn.synsets(tok.lemma.replace(" ", "_"), "n")
                if senses:
                    out.append((tok.lemma, senses[0]))
    return out


def _hypernym_levels(s: Any, depth: int) -> list[list[Any]]:
    levels, frontier = [], [s]
    for _ in range(depth):
        frontier = [h for f in frontier for h in f.hypernyms() + f.instance_hypernyms()]
        if not frontier:
            break
        levels.append(frontier)
    return levels


def candidates(sense: Any) -> dict[int, list[tuple[str, Any]]]:
    """Raw candidates per distance for one sense (before context ranking)."""
    levels = _hypernym_levels(sense, 7)
    up1 = levels[0] if levels else []
    up2 = levels[1] if len(levels) > 1 else []
    far = [s for lvl in levels[2:] for s in lvl]
    sisters = [h for p in up1 for h in p.hyponyms() if h != sense]
    d1 = _lemmas([sense]) + _lemmas(sense.hyponyms()[:12]) + _lemmas(sense.similar_tos())
    d1 += _lemmas(sense.verb_groups())
    d2 = _lemmas(up1) + _lemmas(up2)
    if sense.pos() in ("a", "s"):
        d2 += _lemmas(s2 for s in sense.similar_tos() for s2 in s.similar_tos())
        d2 += _lemmas(sense.also_sees())
    d3 = _lemmas(sisters[:20])
    d3 += _lemmas(sense.part_meronyms() + sense.part_holonyms() + sense.member_holonyms())
    d3 += _lemmas(sense.substance_meronyms() + sense.substance_holonyms())
    d3 += _lemmas(sense.topic_domains() + sense.usage_domains() + sense.region_domains())
    d3 += _lemmas(sense.entailments() + sense.causes())
    related = [d.synset() for lem in sense.lemmas() for d in lem.derivationally_related_forms()]
    d3 += [(w, s) for w, s in _lemmas(related) if concreteness(w) >= 3.0]
    d3 += [(w, s) for w, s in _gloss_nouns([sense]) if concreteness(w) >= 3.5]
    wholes = sense.part_holonyms() + sense.member_holonyms() + sense.topic_domains()
    abstract = _lemmas(far) + _gloss_nouns([sense, *up1, *wholes, *sisters[:5]])
    abstract += _lemmas(related) + _lemmas(sense.attributes())
    abstract += _lemmas(s for s in sense.topic_domains() for s in s.hypernyms())
    pool = [(w, s) for w, s in abstract if concreteness(w) < 3.5]
    return {1: d1, 2: d2, 3: d3, 45: pool}


class LexicalMiner:
    """Associations at five distances from WordNet, ranked by the image's context."""

    name = "lexical"

    def __init__(self, per_distance: int = 3) -> None:
        if per_distance < 1:
            raise UserInputError(f"per_distance must be >= 1, got {per_distance}; pass 1 or more")
        self.options = LexicalOptions(per_distance=per_distance)
        self.per_distance = per_distance

    def settings(self) -> dict[str, Any]:
        return self.options.settings(1, wordnet="3.0")

    def load(self, progress: Any = None) -> None:
        """Load WordNet and the lexicons now (a Ray actor as it starts, the runner
        before its first batch): one element mined (~4 s cold)."""
        self.mine_one([Element(name="tree", concept="tree")], "a tree by the river")

    def mine(self, items: Sequence[MiningInput]) -> list[list[Evocation] | Failed]:
        return mine_each(items, self.mine_one, "lexical miner")

    def mine_one(self, elements: Sequence[Element], description: str) -> list[Evocation]:
        caption_words = {concept_key(t.lemma) for t in content_words(description)}
        result: list[Evocation] = []
        for el in elements:
            others = ({e.concept for e in elements} | caption_words) - {el.concept}
            result += self._for_element(el, Context(others), {e.concept for e in elements})
        return result

    def _for_element(self, el: Element, ctx: Context, banned: set[str]) -> list[Evocation]:
        sense = choose_sense(el.concept, el.pos, ctx)
        if sense is None:
            return []
        raw = candidates(sense)
        used: set[str] = set()
        picked: dict[int, list[tuple[str, str]]] = {}
        base = concreteness(el.concept)
        for d in (1, 2, 3):
            target = base - CONCRETENESS_STEP * (d - 1)
            picked[d] = self._rank(
                raw[d], el.concept, banned | used, ctx, self.per_distance, target
            )
            used |= {w for w, _ in picked[d]}
        target = base - CONCRETENESS_STEP * 3
        pool = self._rank(raw[45], el.concept, banned | used, ctx, 4 * self.per_distance, target)
        pool.sort(key=lambda wp: -concreteness(wp[0]))
        half = max(len(pool) // 2, min(len(pool), self.per_distance))
        four = pool[:half][: self.per_distance]
        five = sorted(pool[half:], key=lambda wp: concreteness(wp[0]))[: self.per_distance]
        picked[4], picked[5] = four, five
        return [
            Evocation(
                element=el.concept,
                concept=w,
                surface=w,
                pos=pos,  # type: ignore[arg-type]
                distance=d,
                rank=r,
            )
            for d in DISTANCES
            for r, (w, pos) in enumerate(picked[d])
        ]

    @staticmethod
    def _rank(
        cands: list[tuple[str, Any]],
        word: str,
        banned: set[str],
        ctx: Context,
        k: int,
        target: float,
    ) -> list[tuple[str, str]]:
        """Top ``k`` by context relatedness, penalising candidates more concrete
        than the distance's target (so that concreteness falls with distance)."""
        best: dict[str, tuple[float, str]] = {}
        for w, s in cands:
            if (
                len(w) < 3
                or w in STOPWORDS
                or w in _GENERIC
                or w.replace(" ", "_") in _GENERIC
                or any(_near_duplicate(w, b) for b in (*banned, word))
                or not w.replace(" ", "").replace("-", "").isalpha()
            ):
                continue
            rated = rating(w)
            excess = max(0.0, (rated if rated is not None else UNKNOWN) - target)
            score = ctx.relatedness(s) - CONCRETENESS_PENALTY * excess - 0.02 * w.count(" ")
            if rated is None:  # unrated words are mostly rare ("cylix"): prefer known ones
                score -= UNRATED_PENALTY
            if w not in best or score > best[w][0]:
                best[w] = (score, _POS_BACK.get(s.pos(), "NOUN"))
        ranked = sorted(best.items(), key=lambda kv: (-kv[1][0], kv[0]))
        return [(w, pos) for w, (_, pos) in ranked[:k]]


MINERS.add("lexical", LexicalMiner, "WordNet + concreteness associations (offline baseline)")
