"""English for the template captions: articles, inflection, word classes, sensitive terms.

No string suffixes: articles come from ``inflect`` (``a``/``an`` by sound:
"an hour", "a unicorn", "an FBI agent"), lemmas and inflected forms from
``lemminflect`` ("towering" -> "tower" -> "towering", "format" -> "formatting"),
and an inflected form is used only when it is a known English word (wordfreq;
lemminflect's own lexicon without it). Word classes and the sensitive-term
check read WordNet (:mod:`evokegraph.lexicons.wordnet`).

Sensitive terms. No PyPI package ships a maintained, licence-clear list of
identity terms small enough to depend on, so :func:`sensitive` is a documented
set of WordNet checks (every sense of the word but the rare ones, those used less than
:data:`MINOR_SHARE` as often as its most used sense in WordNet's tagged corpus,
so "order" is not a religious order and "white" not a person):

* a noun sense under one of :data:`SENSITIVE_ROOTS` (race and ethnicity,
  religion, sexuality, disability) or one of :data:`SENSITIVE_SENSES` (gender:
  "female", "male", "gender", not every word for a woman or a man);
* a noun sense for a kind of person named by a capitalised lemma
  (``noun.person``, not a named individual: "American", "Catholic", "Marxist"):
  nationality, faith, people or movement;
* an adjective sense that pertains to such a noun or to a proper-noun place
  or group ("racial" -> race, "Jewish" -> Jew, "American" -> United States);
* a sense WordNet marks as disparaging, an ethnic slur or obscene;
* the few terms of :data:`EXTRA_TERMS` that WordNet 3.0 lacks or files elsewhere.

The template realizer never puts a flagged word into a pattern that makes it a
property of the pictured object; it mentions the word as an association instead.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

WordClass = Literal["NOUN", "VERB", "ADJ", "OTHER"]

SENSITIVE_ROOTS: dict[str, tuple[str, ...]] = {
    "race or ethnicity": (
        "race.n.03",
        "ethnic_group.n.01",
        "person_of_color.n.01",
        "black.n.05",
        "white.n.01",
        "nationality.n.01",
    ),
    "religion": ("religion.n.01", "religion.n.02", "religious_person.n.01"),
    "sexuality": (
        "homosexual.n.01",
        "heterosexual.n.01",
        "bisexual.n.01",
        "transsexual.n.01",
        "sex.n.04",
    ),
    "disability": ("disabled.n.01", "disability.n.01", "handicapped_person.n.01"),
}
# the category words themselves, not what lies under them ("woman", "mother" are people,
# not a gender term)
SENSITIVE_SENSES: dict[str, tuple[str, ...]] = {
    "gender": ("female.n.02", "male.n.02", "sex.n.04", "gender.n.01"),
}
# identity terms WordNet 3.0 lacks or files under a neutral sense ("deaf" is first
# an adjective of hearing, "transgender" is missing)
EXTRA_TERMS: dict[str, str] = {
    **dict.fromkeys(
        ("ethnic", "ethnicity", "indigenous", "tribal", "immigrant", "refugee", "racism", "racist"),
        "race or ethnicity",
    ),
    **dict.fromkeys(("female", "male", "gender"), "gender"),
    **dict.fromkeys(
        (
            "gay",
            "sex",
            "sexual",
            "sexuality",
            "transgender",
            "nonbinary",
            "queer",
            "homophobia",
            "sexism",
        ),
        "sexuality",
    ),
    **dict.fromkeys(
        ("blind", "deaf", "mute", "autistic", "handicapped", "crippled", "disabled"),
        "disability",
    ),
}
OFFENSIVE_DOMAINS = ("disparagement.n.01", "ethnic_slur.n.01", "obscenity.n.02", "vulgarism.n.01")
KNOWN_ZIPF = 1.0  # wordfreq's Zipf scale: about once in 100 million words
# a sense used less than this share of the word's most used sense is rare; a word
# class used less than CLASS_MINOR_SHARE of the word's most used class is minor
MINOR_SHARE = 0.25
CLASS_MINOR_SHARE = 1 / 3
MASS_NOUN_GAP = 1.3  # Zipf: a noun whose plural is this much rarer is a mass noun


@cache
def _inflect() -> Any:
    import inflect

    return inflect.engine()


@cache
def article(word: str) -> str:
    """``a`` or ``an`` for ``word``, by sound (inflect)."""
    return str(_inflect().a(word)).split(" ", 1)[0]


def with_article(phrase: str) -> str:
    return f"{article(phrase)} {phrase}"


@cache
def known(word: str) -> bool:
    """A word an English reader knows: in wordfreq (Zipf >= KNOWN_ZIPF), or, without
    wordfreq, in lemminflect's lexicon."""
    from evokegraph.lexicons.frequency import zipf_frequency_or_none

    z = zipf_frequency_or_none(word)
    if z is not None:
        return z >= KNOWN_ZIPF
    import lemminflect

    return bool(lemminflect.getAllLemmas(word))


def _verb_lemma(word: str) -> str:
    import lemminflect

    head = word.split()[0] if word.split() else word
    return (lemminflect.getAllLemmas(head).get("VERB") or ("",))[0]


@cache
def gerund(verb: str) -> str | None:
    """The -ing form of a verb or verb phrase ("run" -> "running", "towering" ->
    "towering", "look up" -> "looking up"); None when the head is not a verb
    lemminflect knows or the form is not a known word."""
    import lemminflect

    head, _, rest = verb.partition(" ")
    lemmas = lemminflect.getAllLemmas(head).get("VERB")
    if not lemmas:
        return None
    forms = lemminflect.getInflection(lemmas[0], "VBG")
    if not forms or not known(forms[0]):
        return None
    return f"{forms[0]} {rest}".strip()


@cache
def countable(word: str) -> bool:
    """False for mass nouns ("equipment", "coffee", "money"): lemminflect has no
    plural, or the plural is MASS_NOUN_GAP rarer than the singular in English text
    (wordfreq); True when unknown. A heuristic: "water" still counts as countable."""
    import lemminflect

    from evokegraph.lexicons.frequency import zipf_frequency_or_none

    head = word.split()[-1]
    singular = zipf_frequency_or_none(head)
    if singular is None or singular < 2.5:
        return True  # no wordfreq, or too rare to judge
    plurals = lemminflect.getInflection(head, "NNS") or (head + "s",)
    if plurals[0] == head:
        return False  # "sheep", "equipment": one form
    return (zipf_frequency_or_none(plurals[0]) or 0.0) > singular - MASS_NOUN_GAP


def _wn() -> Any:
    from evokegraph.lexicons.wordnet import wordnet

    return wordnet()


@cache
def _sense_counts() -> dict[str, int]:
    """WordNet's ``index.sense`` as sense key -> tag count, read once (NLTK's
    ``Lemma.count`` searches the file on every call: ~2 ms each)."""
    from evokegraph.lexicons.wordnet import prepare

    path = prepare() / "corpora" / "wordnet" / "index.sense"
    out: dict[str, int] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) == 4:
                out[parts[0]] = int(parts[3])
    return out


def _uses(synset: Any, word: str) -> int:
    """How often WordNet's tagged corpus (SemCor) uses ``word`` in this sense."""
    key = word.replace(" ", "_").casefold()
    counts = _sense_counts()
    return sum(counts.get(lem.key(), 0) for lem in synset.lemmas() if lem.name().casefold() == key)


_CLASSES: dict[str, WordClass] = {"NOUN": "NOUN", "VERB": "VERB", "ADJ": "ADJ"}
_WN_CLASS = {"n": "NOUN", "v": "VERB", "a": "ADJ", "s": "ADJ", "r": "ADV"}


@cache
def class_uses(word: str) -> dict[str, int]:
    """Uses of ``word`` per word class in WordNet (SemCor counts, +1 per sense)."""
    out: dict[str, int] = {}
    for s in _wn().synsets(word.strip().replace(" ", "_")):
        c = _WN_CLASS[s.pos()]
        out[c] = out.get(c, 0) + 1 + _uses(s, word)
    return out


@cache
def word_class(word: str, stored: str = "NOUN") -> WordClass:
    """How a word can be used in a caption: the stored part of speech where WordNet
    has it and it is not a minor use of the word ("ornamental" stored as a noun is
    an adjective; "ago" stored as an adjective is an adverb), else the word's
    most used class. A verb needs a known -ing form; words WordNet lacks stay as
    stored (nouns by default: rare names of things); a verb must be in its base
    or -ing form, since the caption keeps the path's word."""
    uses = dict(class_uses(word))  # a copy: class_uses is cached
    g, head = gerund(word), (word.split() or [word])[0]
    keeps_word = g is not None and head in (g.split()[0], _verb_lemma(word))
    if not keeps_word and uses.pop("VERB", None) is not None and not uses:
        return "OTHER"  # "ran", "eaten": only a verb form the caption cannot keep
    if not uses:
        return "ADJ" if stored == "ADJ" else "NOUN"
    top = max(uses.values())
    if uses.get(stored, 0) >= CLASS_MINOR_SHARE * top:
        choice = stored
    else:
        choice = min(uses, key=lambda c: (-uses[c], ("NOUN", "ADJ", "VERB", "ADV").index(c)))
    return _CLASSES.get(choice, "OTHER")


@cache
def _categories() -> dict[str, str]:
    """Synset name -> category for every synset at or under a sensitive root,
    plus the exact senses (built once: one hyponym walk per root)."""
    wn = _wn()
    out: dict[str, str] = {}
    for category, roots in SENSITIVE_ROOTS.items():
        for name in roots:
            root = wn.synset(name)
            for s in [root, *root.closure(lambda x: x.hyponyms())]:
                out.setdefault(s.name(), category)
    for category, names in SENSITIVE_SENSES.items():
        for name in names:
            out.setdefault(name, category)
    return out


def _noun_category(synset: Any, word: str = "") -> str | None:
    if synset.instance_hypernyms():
        return None  # a named individual or place, not a group of people
    category = _categories().get(synset.name())
    if category is not None:
        return category
    named = [lem.name() for lem in synset.lemmas() if lem.name().casefold() == word.casefold()]
    if synset.lexname() == "noun.person" and any(n[:1].isupper() for n in named or [""]):
        return "nationality, faith or group"
    return None


def _pertains(synset: Any) -> str | None:
    for lem in synset.lemmas():
        for p in lem.pertainyms():
            noun = p.synset()
            category = _noun_category(noun, p.name())
            if category is not None:
                return category
            if p.name()[:1].isupper() and noun.lexname() in ("noun.location", "noun.group"):
                return "nationality, faith or group"
    return None


@cache
def sensitive(word: str) -> str | None:
    """The identity or sensitive category of ``word`` ("race or ethnicity",
    "religion", "sexuality", "gender", "disability", "nationality, faith or group",
    "offensive"), or None; see the module docstring for the checks."""
    if word.strip().casefold() in EXTRA_TERMS:
        return EXTRA_TERMS[word.strip().casefold()]
    wn = _wn()
    key = word.strip().replace(" ", "_")
    senses = wn.synsets(key)
    offensive = frozenset(OFFENSIVE_DOMAINS)
    top = max((_uses(s, key) for s in senses), default=0)
    for s in senses:
        if _uses(s, key) < MINOR_SHARE * top:
            continue  # a rare sense: "order" is seldom a religious order
        if any(d.name() in offensive for d in s.usage_domains()):
            return "offensive"
        category = _noun_category(s, key) if s.pos() == "n" else None
        if category is None and s.pos() in ("a", "s"):
            category = _pertains(s)
        if category is not None:
            return category
    return None
