"""Tokenising, part-of-speech tagging and lemmatising short captions, offline.

spaCy's English models cannot be installed here and NLTK's tagger data is a
download, so tagging uses WordNet itself: a word's candidate parts of speech
are those WordNet knows it under (via ``morphy``), weighted by how often the
word's senses occur in WordNet's tagged corpus (``lemma.count()``), and
nudged by a few contextual rules (after a determiner: noun or adjective;
after "to" or a modal: verb; "-ing" after a form of "be": verb; an adjective
reading before a noun). It is a heuristic, tuned for literal captions ("a dog
running on a sandy beach"), not a general tagger.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

from evokegraph.lexicons.wordnet import wordnet

STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "several",
        "many",
        "much",
        "lot",
        "lots",
        "image",
        "picture",
        "photo",
        "photograph",
        "shown",
        "showing",
        "view",
        "front",
        "top",
        "side",
        "near",
        "next",
        "back",
        "something",
        "someone",
        "thing",
        "things",
        "way",
        "also",
        "get",
        "gets",
        "got",
        "make",
        "makes",
        "made",
        "take",
        "takes",
        "there's",
        "it's",
        "let",
    ]
)
DETERMINERS = frozenset(
    [
        "a",
        "an",
        "the",
        "this",
        "that",
        "these",
        "those",
        "his",
        "her",
        "its",
        "their",
        "our",
        "my",
        "your",
        "some",
        "several",
        "many",
        "two",
        "three",
        "four",
        "five",
        "each",
        "every",
        "another",
    ]
)
BE_FORMS = frozenset(["is", "are", "was", "were", "be", "been", "being", "am", "'s"])
MODALS = frozenset(["to", "can", "could", "will", "would", "should", "may", "might", "must"])
_TOKEN = re.compile(r"[A-Za-z][A-Za-z'-]*")
_WN_POS = {"NOUN": "n", "VERB": "v", "ADJ": "a", "ADV": "r"}


@dataclass(frozen=True)
class Token:
    text: str  # as written, lowercased
    lemma: str
    pos: str  # NOUN | VERB | ADJ | ADV | OTHER

    @property
    def content(self) -> bool:
        return self.pos in ("NOUN", "VERB", "ADJ") and self.lemma not in STOPWORDS


def tokenize(text: str) -> list[str]:
    return [t.lower().strip("'-") for t in _TOKEN.findall(text) if t.strip("'-")]


@lru_cache(maxsize=65536)
def readings(word: str) -> tuple[tuple[str, str, float], ...]:
    """(pos, lemma, log-frequency prior) for each POS WordNet knows ``word`` as."""
    wn = wordnet()
    out = []
    for pos, code in _WN_POS.items():
        lemma = wn.morphy(word, code)
        if not lemma:
            continue
        count = sum(
            lem.count()
            for s in wn.synsets(lemma, code)
            for lem in s.lemmas()
            if lem.name().lower() == lemma
        )
        out.append((pos, lemma.replace("_", " "), math.log1p(count) + 0.5))
    return tuple(out)


def _score(pos: str, prior: float, prev: str, nxt_can_noun: bool, word: str) -> float:
    s = prior
    if prev in DETERMINERS:
        s += {"NOUN": 2.0, "ADJ": 1.5}.get(pos, -2.0)
    elif prev in MODALS:
        s += 3.0 if pos == "VERB" else -1.0
    elif prev in BE_FORMS and word.endswith("ing"):
        s += 3.0 if pos == "VERB" else 0.0
    elif prev in BE_FORMS:
        s += 1.5 if pos == "ADJ" else 0.0
    if pos == "ADJ" and nxt_can_noun:
        s += 1.0
    if word.endswith("ing") and pos == "VERB" and prev not in DETERMINERS:
        s += 1.0
    if word.endswith("ly") and pos == "ADV":
        s += 1.0
    return s


def tag(text: str) -> list[Token]:
    words = tokenize(text)
    out: list[Token] = []
    for i, w in enumerate(words):
        cands = readings(w) if w not in STOPWORDS else ()
        if not cands:
            out.append(Token(w, w, "OTHER"))
            continue
        prev = words[i - 1] if i else ""
        nxt_noun = i + 1 < len(words) and any(p == "NOUN" for p, _, _ in readings(words[i + 1]))
        pos, lemma, _ = max(cands, key=lambda c: _score(c[0], c[2], prev, nxt_noun, w))
        out.append(Token(w, lemma, pos))
    return out


def content_words(text: str) -> list[Token]:
    """Nouns, verbs and adjectives that are not stopwords, lemmatised."""
    return [t for t in tag(text) if t.content]
