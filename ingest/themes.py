"""What a scene is about and how it feels: Empath themes over the miner's vocabulary.

The contextual miner's abstract distances (3-5) are chosen from *themes*, not
from the sentence encoder's whole vocabulary. A theme is one Empath category
(:mod:`evokegraph.lexicons.empath`: ``leisure``, ``celebration``,
``contentment``, ``nervousness`` ...), with its member words that are in the
vocabulary and its centroid (the mean of their embeddings).

For one scene (the image's captions or description) and one element, the
themes are weighed by

``relevance(c) = cos(scene, centroid_c) + cos(element, centroid_c)
+ HIT * (scene words in c) + HIT * [element in c]``

and the top :data:`TOP_THEMES` keep a share of a softmax over those
relevances. A candidate word's *theme score* is the summed share of the
themes it belongs to, plus the share of a theme it names. Only words with a
theme score enter distances 4 and 5: an abstract association must come from
a theme the whole scene and the element both point to, never from the
encoder's similarity alone (which likes "existence" and "probability" for
anything).

The scene's *polarity* (Empath's ``positive_emotion`` vs ``negative_emotion``
themes and VADER's human valence ratings, plus the NRC lexicon's polarity when
the research-use extra is installed) keeps a sunny park from evoking "mortality": a distance-5 word of
the other polarity is pushed down by how clearly the scene leans.

Pure numpy on arrays built once per vocabulary; the same input gives the same
scores in any process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from evokegraph.ingest.topk import top_stable
from evokegraph.lexicons.emotion import emotions
from evokegraph.lexicons.empath import categories, theme_word
from evokegraph.lexicons.valence import valence

TOP_THEMES = 6
TEMPERATURE = 0.08  # softmax temperature over theme relevances (cosines)
HIT = 0.08
NEIGHBOURS = 40  # polarity-rated words nearest the scene that set its polarity  # relevance per scene word (or the element) that is a member of the theme
POLARITY_THEMES = ("positive_emotion", "negative_emotion")
# Themes that say how a scene feels or what it values (distance 5 material);
# every other theme says what the scene is about (distances 3-4).
FEELINGS = frozenset(
    [
        "achievement",
        "affection",
        "aggression",
        "anger",
        "anticipation",
        "beauty",
        "cheerfulness",
        "confusion",
        "contentment",
        "disappointment",
        "disgust",
        "divine",
        "emotional",
        "envy",
        "exasperation",
        "fear",
        "healing",
        "heroic",
        "horror",
        "independence",
        "irritability",
        "joy",
        "love",
        "nervousness",
        "neglect",
        "optimism",
        "pain",
        "power",
        "pride",
        "rage",
        "sadness",
        "shame",
        "strength",
        "suffering",
        "surprise",
        "sympathy",
        "timidity",
        "torment",
        "trust",
        "weakness",
        "zest",
    ]
)


@dataclass(frozen=True)
class Themes:
    """Empath categories over one vocabulary (built once per miner)."""

    names: tuple[str, ...]
    member: np.ndarray  # (C, N) float32 0/1: vocabulary word n is in category c
    named: np.ndarray  # (C, N) float32 0/1: word n is the theme word of category c
    centroid: np.ndarray  # (C, D) normalised mean embedding of the members
    polarity: np.ndarray  # (N,) -1..1: Empath's emotion themes + VADER valence (+ NRC)
    word_index: dict[str, int]

    @cached_property
    def named_word(self) -> np.ndarray | None:
        """(C,) the vocabulary index each theme names (-1: none), or None where
        :func:`named_share` cannot sum sparsely (a theme naming several words, a
        word named by more than two themes, a weight other than 1)."""
        rows, cols = np.nonzero(self.named)
        if (
            np.bincount(rows, minlength=len(self.names)).max(initial=0) > 1
            or np.bincount(cols).max(initial=0) > 2
            or not (self.named[rows, cols] == 1.0).all()
        ):
            return None
        out = np.full(len(self.names), -1, dtype=np.int64)
        out[rows] = cols
        return out

    def members_of(self, words: Sequence[str]) -> np.ndarray:
        """(C,) how many of ``words`` each category holds."""
        idx = [self.word_index[w] for w in words if w in self.word_index]
        if not idx:
            return np.zeros(len(self.names), dtype=np.float32)
        return self.member[:, idx].sum(1)


def build_themes(words: Sequence[str], emb: np.ndarray) -> Themes:
    """Themes over the vocabulary ``words`` (with their normalised embeddings)."""
    index = {w: i for i, w in enumerate(words)}
    cats = categories()
    names, rows, named_rows, cents = [], [], [], []
    for name, members in cats.items():
        idx = sorted({index[w] for w in members if w in index})
        if len(idx) < 5:
            continue
        row = np.zeros(len(words), dtype=np.float32)
        row[idx] = 1.0
        named = np.zeros(len(words), dtype=np.float32)
        tw = theme_word(name)
        if tw is not None and tw in index:
            named[index[tw]] = 1.0
        cent = emb[idx].mean(0)
        names.append(name)
        rows.append(row)
        named_rows.append(named)
        cents.append(cent / max(float(np.linalg.norm(cent)), 1e-9))
    member, named_m = np.stack(rows), np.stack(named_rows)
    return Themes(
        names=tuple(names),
        member=member,
        named=named_m,
        centroid=np.stack(cents).astype(np.float32),
        polarity=_polarity(words, names, member),
        word_index=index,
    )


def _polarity(words: Sequence[str], names: Sequence[str], member: np.ndarray) -> np.ndarray:
    pol = np.zeros(len(words), dtype=np.float32)
    for sign, theme in zip((1.0, -1.0), POLARITY_THEMES, strict=True):
        if theme in names:
            pol += sign * member[names.index(theme)]
    nrc = emotions()
    if nrc:
        for i, w in enumerate(words):
            e = nrc.get(w, frozenset())
            pol[i] += ("positive" in e) - ("negative" in e)
    pol += np.array([valence(w) for w in words], dtype=np.float32)  # VADER's raters
    return np.clip(pol, -1.0, 1.0)


@dataclass(frozen=True)
class SceneThemes:
    """One scene's view of the themes: relevance and polarity."""

    relevance: np.ndarray  # (C,) cosine to the scene + member hits
    polarity: float  # > 0 the scene leans positive, < 0 negative


def scene_themes(
    themes: Themes, ctx_vec: np.ndarray, scene_words: Sequence[str], sc: np.ndarray
) -> SceneThemes:
    """The scene's theme relevances and its polarity: the mean polarity of the
    :data:`NEIGHBOURS` vocabulary words nearest the scene (``sc``: every
    word's cosine to it) that have one, each weighed by its cosine, and of the
    scene's own words."""
    rel = themes.centroid @ ctx_vec + HIT * np.minimum(themes.members_of(scene_words), 3)
    rated = np.nonzero(themes.polarity)[0]
    near = rated[top_stable(sc[rated], NEIGHBOURS)]
    weights = np.maximum(sc[near], 0)
    lean = float(weights @ themes.polarity[near] / max(float(weights.sum()), 1e-9))
    idx = [themes.word_index[w] for w in scene_words if w in themes.word_index]
    own = float(themes.polarity[idx].mean()) if idx else 0.0
    return SceneThemes(relevance=rel.astype(np.float32), polarity=lean + 0.5 * own)


def element_theme_share(
    themes: Themes, scene: SceneThemes, el_vec: np.ndarray, element: str, feelings: bool
) -> np.ndarray:
    """(C,) the share of each theme for one element in one scene: a softmax over
    scene + element relevance, kept for the top :data:`TOP_THEMES` only, among
    the feeling themes (``feelings``) or the topical ones."""
    rel = scene.relevance + themes.centroid @ el_vec
    if element in themes.word_index:
        rel = rel + HIT * themes.member[:, themes.word_index[element]]
    for i, name in enumerate(themes.names):
        if name in POLARITY_THEMES or (name in FEELINGS) != feelings:
            rel[i] = -np.inf
    top = np.argsort(-rel, kind="stable")[:TOP_THEMES]
    share = np.zeros(len(rel), dtype=np.float32)
    z = np.exp((rel[top] - rel[top[0]]) / TEMPERATURE)
    share[top] = z / z.sum()
    return share


def theme_scores(themes: Themes, share: np.ndarray) -> np.ndarray:
    """(N,) per vocabulary word: summed share of the themes it belongs to or names."""
    live = np.nonzero(share)[0]
    return share[live] @ np.maximum(themes.member[live], themes.named[live])


def named_share(themes: Themes, share: np.ndarray) -> np.ndarray:
    """(N,) ``share @ themes.named``: per word, the summed share of the themes that
    name it, read from the live themes only. A named word gets one or two shares
    times 1.0 and zeros elsewhere, and any order of adding them rounds alike, so
    the bits are the dense product's."""
    live = np.flatnonzero(share)
    word = themes.named_word
    if word is None or not np.isfinite(share[live]).all():
        return share @ themes.named
    out = np.zeros(themes.named.shape[1], dtype=np.result_type(share, themes.named))
    for c in live[word[live] >= 0]:
        out[word[c]] += share[c]
    return out


def theme_affinity(themes: Themes, share: np.ndarray, emb: np.ndarray) -> np.ndarray:
    """(N,) per vocabulary word: its cosine to the element's themes' centroids,
    weighted by their share (how near a word is to what the scene is about)."""
    live = np.nonzero(share)[0]
    return emb @ (share[live] @ themes.centroid[live])


def feeling_words(themes: Themes) -> np.ndarray:
    """(N,) 1.0 for words of any feeling theme."""
    rows = [i for i, n in enumerate(themes.names) if n in FEELINGS or n in POLARITY_THEMES]
    return (themes.member[rows].max(0) > 0).astype(np.float32)


def theme_hubness(themes: Themes, emb: np.ndarray, k: int = 10) -> np.ndarray:
    """(N,) per vocabulary word: its mean cosine to its ``k`` nearest topical
    theme centroids. Words near every theme ("anticipation", "amazement")
    fit any scene; :func:`theme_affinity` minus this (as in CSLS, Conneau et
    al. 2018) favours words near *this* scene's themes."""
    rows = [i for i, n in enumerate(themes.names) if n not in FEELINGS and n not in POLARITY_THEMES]
    sims = emb @ themes.centroid[rows].T
    top = -np.partition(-sims, k - 1, axis=1)[:, :k]
    return top.mean(1).astype(np.float32)
