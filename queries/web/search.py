"""Word search for the explorer's one search box: whole words, matched by lemma.

"cat" finds "cats" and "cat," but never "scattering"; "mice" finds "mouse";
every word of the query (bar function words such as "of") must occur (as a word, in any inflection) in one of
an image's texts: its captions, its description or a generated caption.

Lemmas follow WordNet's morphology (its exception lists and detachment rules,
checked against its index, as NLTK's ``morphy``), read straight from the
WordNet files in about 0.2 s; without WordNet a word matches only itself.
The store does the coarse part (substring candidates, portable Cypher both
backends run, values as parameters); this module does the exact part.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from evokegraph.errors import EvokeGraphError
from evokegraph.lexicons.wordnet import find_source

WORD = re.compile(r"[0-9a-z]+(?:['\u2019][a-z]+)?")
POS_FILES = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
# WordNet's detachment rules (the ones NLTK's morphy applies), per part of speech
RULES: dict[str, tuple[tuple[str, str], ...]] = {
    "n": (
        ("s", ""),
        ("ses", "s"),
        ("ves", "f"),
        ("xes", "x"),
        ("zes", "z"),
        ("ches", "ch"),
        ("shes", "sh"),
        ("men", "man"),
        ("ies", "y"),
    ),
    "v": (
        ("s", ""),
        ("ies", "y"),
        ("es", "e"),
        ("es", ""),
        ("ed", "e"),
        ("ed", ""),
        ("ing", "e"),
        ("ing", ""),
    ),
    "a": (("er", ""), ("est", ""), ("er", "e"), ("est", "e")),
    "r": (),
}
MAX_WORDS = 8
# function words a query may hold ("cup of coffee") that say nothing about an image
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "in",
        "on",
        "at",
        "to",
        "and",
        "or",
        "with",
        "by",
        "for",
        "from",
        "into",
        "onto",
        "over",
        "under",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "its",
        "it",
        "this",
        "that",
        "these",
        "those",
        "his",
        "her",
        "their",
    ]
)


@dataclass(frozen=True)
class Lexicon:
    index: dict[str, frozenset[str]]  # pos -> lemmas
    exceptions: dict[str, dict[str, tuple[str, ...]]]  # pos -> form -> lemmas
    forms: dict[str, tuple[str, ...]]  # lemma -> irregular forms (all parts of speech)


def _read(root: Path) -> Lexicon:
    index: dict[str, frozenset[str]] = {}
    exceptions: dict[str, dict[str, tuple[str, ...]]] = {}
    forms: dict[str, set[str]] = {}
    for pos, name in POS_FILES.items():
        with (root / f"index.{name}").open(encoding="utf-8") as f:
            index[pos] = frozenset(line.split(" ", 1)[0] for line in f if not line.startswith(" "))
        exc: dict[str, tuple[str, ...]] = {}
        with (root / f"{name}.exc").open(encoding="utf-8") as f:
            for line in f:
                form, *lemmas = line.split()
                exc[form] = tuple(lemmas)
                for lemma in lemmas:
                    forms.setdefault(lemma, set()).add(form)
        exceptions[pos] = exc
    return Lexicon(index, exceptions, {k: tuple(sorted(v)) for k, v in sorted(forms.items())})


@lru_cache(maxsize=1)
def lexicon() -> Lexicon | None:
    """WordNet's index and exception lists, or None where WordNet is missing."""
    try:
        return _read(find_source())
    except (EvokeGraphError, OSError):
        return None


@lru_cache(maxsize=65536)
def lemmas(word: str) -> frozenset[str]:
    """The word itself and every WordNet lemma it can be an inflection of."""
    out = {word}
    lex = lexicon()
    if lex is None:
        return frozenset(out)
    for pos, rules in RULES.items():
        out.update(lex.exceptions[pos].get(word, ()))
        for old, new in rules:
            if word.endswith(old) and len(word) > len(old):
                stem = word[: len(word) - len(old)] + new
                if stem in lex.index[pos]:
                    out.add(stem)
    return frozenset(out)


def words(text: str) -> list[str]:
    """Lower-case words of ``text`` (letters and digits; "don't" stays whole)."""
    return WORD.findall(text.casefold().replace("_", " "))


@dataclass(frozen=True)
class WordQuery:
    """A parsed search: one set of lemmas per query word."""

    text: str
    terms: tuple[frozenset[str], ...]

    @classmethod
    def parse(cls, text: str) -> WordQuery:
        found = list(dict.fromkeys(words(text)))
        content = [w for w in found if w not in STOPWORDS]
        found = (content or found)[:MAX_WORDS]
        return cls(" ".join(found), tuple(lemmas(w) for w in found))

    def __bool__(self) -> bool:
        return bool(self.terms)

    def substrings(self) -> list[str]:
        """Lower-case substrings that any matching text must contain for some
        term (a lemma's stem, its irregular forms): the store's coarse filter."""
        lex = lexicon()
        keys: set[str] = set()
        for term in self.terms[:1]:  # one term is enough to narrow the candidates
            for lemma in term:
                keys.add(_stem(lemma))
                keys.update(lex.forms.get(lemma, ()) if lex else ())
        # a key that contains another key adds nothing
        return sorted(k for k in keys if not any(o != k and o in k for o in keys))

    def matches(self, texts: Iterable[str]) -> bool:
        """Whether every term occurs as a word (in some inflection) in ``texts``."""
        found: set[str] = set()
        for t in texts:
            for w in words(t):
                found.update(lemmas(w))
        return all(term & found for term in self.terms)


def _stem(lemma: str) -> str:
    """The part of a lemma every regular inflection keeps ("fly" -> "fl" for
    "flies", "make" -> "mak" for "making", "leaf" -> "lea" for "leaves")."""
    if len(lemma) > 3 and lemma.endswith("fe"):
        return lemma[:-2]
    if len(lemma) > 2 and lemma[-1] in "eyf":
        return lemma[:-1]
    return lemma
