"""Empath category lexicons (Fast, Chen and Bernstein, "Empath: Understanding
Topic Signals in Large-Scale Text", CHI 2016), from the ``empath`` package.

194 crowd-validated categories (``leisure``, ``celebration``, ``contentment``,
``nervousness``, ``achievement`` ...), each a list of member words, read from
``empath/data/categories.tsv`` as the package ships it (MIT licence). The
contextual miner reads them as *themes*: what a whole scene is about and how
it feels, the material of distances 3-5.

Words of categories nobody wants offered for a photograph (``sexual``,
``lust``, ``swearing_terms``) are left out, except feelings those lexicons
share with at least two other categories ("pleasure", "longing", "passion",
"tenderness"), and never an explicit term of :data:`ALWAYS_EXCLUDED`; each
excluded word in every inflected form (lemminflect);
category names that are not words ("dominant_heirarchical") name no theme.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from importlib.metadata import PackageNotFoundError, version

from evokegraph.errors import ModelError

INSTALL_HINT = "install the content extra: pip install 'evokegraph[content]' (it brings empath)"
EXCLUDED = frozenset(["sexual", "lust", "swearing_terms"])
SHARED_MIN = 2  # a word of an excluded category stays if this many other categories hold it
ALWAYS_EXCLUDED = frozenset(
    ["amorous", "arouse", "lust", "provocative", "rape", "sexy", "tantalizing", "tease"]
)
# category name -> the word that names the theme (None: the name is no word)
THEME_WORDS: dict[str, str | None] = {
    "blue_collar_job": "labor",
    "white_collar_job": "career",
    "medical_emergency": "emergency",
    "domestic_work": "housework",
    "social_media": None,
    "real_estate": "property",
    "dominant_heirarchical": "hierarchy",
    "dominant_personality": "dominance",
    "negative_emotion": None,
    "positive_emotion": None,
    "shape_and_size": None,
    "air_travel": "flight",
    "competing": "competition",
    "stealing": "theft",
    "traveling": "travel",
    "hiking": "hike",
    "swimming": "swim",
    "sailing": "sail",
    "cooking": "cooking",
    "eating": "eating",
    "breaking": None,
    "listen": "listening",
    "speaking": "speech",
    "giving": "generosity",
    "childish": "childhood",
    "emotional": "emotion",
    "musical": None,
    "programming": None,
    "hipster": None,
    "negotiate": "negotiation",
    "messaging": None,
    "anonymity": "anonymity",
    "wealthy": "wealth",
    "poor": "poverty",
    "attractive": "attraction",
    "masculine": "masculinity",
    "feminine": "femininity",
    "heroic": "heroism",
    "divine": "divinity",
    "ancient": "antiquity",
    "medieval": None,
    "exotic": None,
    "rural": "countryside",
    "urban": "city",
    "valuable": "value",
    "school": "education",
    "sports": "sport",
    "restaurant": "dining",
    "friends": "friendship",
    "exercise": "fitness",
    "children": "childhood",
    "home": "home",
    "toy": "play",
    "pet": "companionship",
    "ocean": "sea",
    "plant": "nature",
    "animal": "wildlife",
    "cold": "winter",
    "night": "night",
    "work": "work",
    "occupation": "work",
    "liquid": None,
    "body": None,
    "fabric": None,
    "shape": None,
    "tool": None,
}


@lru_cache(maxsize=1)
def categories() -> dict[str, tuple[str, ...]]:
    """category -> its member words (lowercase, single words, de-duplicated,
    in the file's order); sorted by category name."""
    try:
        ref = resources.files("empath") / "data" / "categories.tsv"
        text = ref.read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise ModelError(
            f"Empath lexicons missing ({exc.__class__.__name__}); {INSTALL_HINT}"
        ) from None
    out: dict[str, tuple[str, ...]] = {}
    for line in text.splitlines():
        name, *words = line.rstrip("\n").split("\t")
        if not name or name in EXCLUDED:
            continue
        members = dict.fromkeys(w.lower() for w in words if w.isalpha())
        out[name] = tuple(members)
    return dict(sorted(out.items()))


@lru_cache(maxsize=1)
def excluded_words() -> frozenset[str]:
    """Words of the excluded categories: never offered as an association."""
    ref = resources.files("empath") / "data" / "categories.tsv"
    bad: set[str] = set()
    shared: dict[str, int] = {}
    for line in ref.read_text(encoding="utf-8").splitlines():
        name, *words = line.rstrip("\n").split("\t")
        for w in {w.lower() for w in words}:
            if name in EXCLUDED:
                bad.add(w)
            else:
                shared[w] = shared.get(w, 0) + 1
    swearing = set(_members("swearing_terms"))
    keep = {w for w in bad if shared.get(w, 0) >= SHARED_MIN and w not in swearing}
    strict = (bad & swearing) | ALWAYS_EXCLUDED
    return frozenset(_inflected(strict, every=True) | _inflected(bad - keep - strict, every=False))


def _inflected(words: set[str] | frozenset[str], every: bool) -> set[str]:
    """The words and their inflected forms by lemminflect ("fuck" -> "fucking":
    a lexicon lists lemmas, a vocabulary holds forms; round 15 offered
    "fucking"). Unless ``every``, a form that is a noun or adjective in its own
    right stays offered ("ground" is not only "grind")."""
    from lemminflect import getAllInflections, getAllInflectionsOOV, getAllLemmas

    out = set(words)
    for w in sorted(words):
        known = getAllInflections(w)  # its dictionary lacks most profanity: then its rules
        found = known or {**getAllInflectionsOOV(w, "NOUN"), **getAllInflectionsOOV(w, "VERB")}
        for form in sorted({f.lower() for forms in found.values() for f in forms}):
            own = getAllLemmas(form)
            if every or not any(form in own.get(p, ()) for p in ("NOUN", "ADJ")):
                out.add(form)
    return out


def _members(category: str) -> list[str]:
    ref = resources.files("empath") / "data" / "categories.tsv"
    for line in ref.read_text(encoding="utf-8").splitlines():
        name, *words = line.rstrip("\n").split("\t")
        if name == category:
            return [w.lower() for w in words]
    return []


def theme_word(category: str) -> str | None:
    """The word that names ``category`` as a theme ("competing" -> "competition")."""
    return THEME_WORDS.get(category, category)


def empath_version() -> str:
    try:
        return version("empath")
    except PackageNotFoundError:
        return "-"
