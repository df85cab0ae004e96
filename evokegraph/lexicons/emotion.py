"""The NRC Word-Emotion Association Lexicon (Mohammad and Turney, 2013), from
the ``nrclex`` wheel (``nrclex/data/nrc_en.json``): word -> the emotions
(anger, anticipation, disgust, fear, joy, sadness, surprise, trust) and the
polarity (positive, negative) crowd workers associated with it.

Its terms allow research use only, so it is an optional extra
(``pip install 'evokegraph[nrc-research]'``): :func:`emotions` returns an empty
mapping when it is not installed, and the miner then reads a scene's feeling
from Empath's emotion categories alone. Which lexicon ran is part of the
miner's settings, so stored associations say whether NRC shaped them.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from importlib.metadata import PackageNotFoundError, version

EMOTIONS: tuple[str, ...] = (
    "anger",
    "anticipation",
    "disgust",
    "fear",
    "joy",
    "sadness",
    "surprise",
    "trust",
    "positive",
    "negative",
)


@lru_cache(maxsize=1)
def emotions() -> dict[str, frozenset[str]]:
    """word -> its NRC emotions; empty when the research-use extra is missing."""
    try:
        ref = resources.files("nrclex") / "data" / "nrc_en.json"
        raw = json.loads(ref.read_text(encoding="utf-8"))
    except (ModuleNotFoundError, FileNotFoundError):
        return {}
    return {w.lower(): frozenset(e for e in v if e in EMOTIONS) for w, v in sorted(raw.items())}


def nrc_version() -> str:
    """The installed nrclex version, or "-" when the extra is missing."""
    try:
        return version("nrclex") if emotions() else "-"
    except PackageNotFoundError:
        return "-"
