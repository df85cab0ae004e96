"""Human valence ratings of English words: the VADER sentiment lexicon
(Hutto and Gilbert, ICWSM 2014; ``vaderSentiment`` wheel,
``vaderSentiment/vader_lexicon.txt``, MIT licence).

Each of its ~7,500 entries is the mean of ten raters' judgements from -4
(extremely negative) to +4 (extremely positive): "tragedy" -3.4, "misery"
-2.7, "mourning" -1.9, "hope" +1.9, "joy" +2.8. The contextual miner reads
them, scaled to -1..1, as the polarity of candidate words and, through the
words nearest a scene, as the scene's polarity: a sunny fair does not evoke
"mourning". Words it does not rate are neutral (0).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from importlib.metadata import PackageNotFoundError, version

from evokegraph.errors import ModelError

INSTALL_HINT = (
    "install the content extra: pip install 'evokegraph[content]' (it brings vaderSentiment)"
)
SCALE = 4.0  # the lexicon's ratings run from -4 to +4


@lru_cache(maxsize=1)
def valences() -> dict[str, float]:
    """word -> mean human valence scaled to -1..1 (single words only)."""
    try:
        ref = resources.files("vaderSentiment") / "vader_lexicon.txt"
        text = ref.read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        raise ModelError(f"the valence lexicon is missing; {INSTALL_HINT}") from None
    out: dict[str, float] = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and parts[0].isalpha():
            out[parts[0].lower()] = float(parts[1]) / SCALE
    return dict(sorted(out.items()))


def valence(word: str) -> float:
    """-1..1; 0 for a word the lexicon does not rate."""
    return valences().get(word.lower(), 0.0)


def vader_version() -> str:
    try:
        return version("vaderSentiment")
    except PackageNotFoundError:
        return "-"
