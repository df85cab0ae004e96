"""Written associations: what people wrote for other scenes, as evidence for a new one.

The ``contextual`` miner's full abstractions (distance 5) drew on feeling words
near the scene in the sentence encoder's space; blind raters accepted a third
of them ("bliss", "euphoria" for a volcano at night). People, asked for the
full abstraction of an element in a scene, write a small shared vocabulary of
values and moods ("freedom", "comfort", "solitude", "togetherness") and write
the same ones for similar scenes: a baker at dawn and a family at a table both
get "warmth". So the miner keeps a memory of written associations, each item
a scene caption, one of its elements and the words written for it per
distance, and scores a candidate at distance 5 by how similar the scenes and
elements that received it are to this one (k nearest items, as in
nearest-neighbour captioning).

The memory shipped in ``evokegraph/data/written_associations.jsonl`` holds
the project's tuning scenes (``bench/build_written.py`` writes it from
``bench/data/dev_scenes*.jsonl`` and the reported ``rating_heldout*.jsonl``, never from a
file that is still to be reported). Users point the miner at their own file
of the same shape (``-o written=PATH``): one JSON object per line with
``caption``, ``word`` (the element) and ``d`` (distance -> list of words).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from evokegraph.errors import UserInputError
from evokegraph.ingest.products import product
from evokegraph.ingest.sources import jsonl_objects
from evokegraph.ingest.topk import top_stable
from evokegraph.paths import cache_dir

WRITTEN_FILE = "written_associations.jsonl"  # in the evokegraph.data package
NEIGHBOURS = 10  # memory items a scene's evidence is read from
CONCEPTS_KEPT = 256  # element vectors whose similarities to the memory are kept
SCENE_SHARE = 0.5  # similarity = this * cos(caption) + the rest * cos(element word)
TEMPERATURE = 0.05  # softmax temperature over the neighbours' similarities
# Confidence of a written word at distance 5: a logistic over the closest item's
# similarity and the nearest items' share, minus one per other element of the
# image that already has the word (as the acceptance model's fixed repeat
# weight). Fitted by bench/fit_written.py on a blind rating of 534 distance-5
# words for the 30 scenes of rating_heldout8.jsonl (bench/data/ratings/dev15,
# 2 raters), the memory leaving those scenes out.
CONFIDENCE_BEST = 3.624
CONFIDENCE_SHARE = 0.641
CONFIDENCE_BIAS = -2.225
REPEAT_LOGIT = 1.0


@dataclass(frozen=True)
class WrittenItem:
    caption: str
    element: str
    words: dict[int, tuple[str, ...]]  # distance -> words written, lower-cased


def parse_written(lines: Iterable[str], source: str) -> list[WrittenItem]:
    """Items of a written-associations file; a bad line is one ``UserInputError``
    naming ``source`` and the line."""
    items: list[WrittenItem] = []
    for where, raw in jsonl_objects(lines, source, UserInputError):
        caption, element, by_d = raw.get("caption"), raw.get("word"), raw.get("d")
        if (
            not isinstance(caption, str)
            or not isinstance(element, str)
            or not isinstance(by_d, dict)
        ):
            raise UserInputError(
                f"{where}: needs caption (text), word (the element) and d (distance -> words)"
            )
        words: dict[int, tuple[str, ...]] = {}
        for key, value in by_d.items():
            if str(key) not in {"1", "2", "3", "4", "5"} or not isinstance(value, list):
                raise UserInputError(f"{where}: d must map distances 1-5 to lists of words")
            words[int(key)] = tuple(str(w).strip().lower() for w in value if str(w).strip())
        items.append(WrittenItem(" ".join(caption.split()), element.strip().lower(), words))
    return items


def load_written(path: str | Path | None = None) -> tuple[list[WrittenItem], str]:
    """The memory (the shipped file unless ``path``) and its content digest."""
    if path is None:
        text = (resources.files("evokegraph.data") / WRITTEN_FILE).read_text(encoding="utf-8")
        source = f"evokegraph/data/{WRITTEN_FILE}"
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise UserInputError(
                f"written associations {path}: cannot read ({exc.strerror}); give a JSONL file"
            ) from exc
        source = str(path)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    return parse_written(text.splitlines(), source), digest


class Evidence(NamedTuple):
    share: np.ndarray  # (V,) softmax share of the nearest items that hold the word
    best: np.ndarray  # (V,) similarity of the closest item that holds it (-1: none)


@dataclass(frozen=True)
class WrittenMemory:
    """The memory embedded, and its (item, vocabulary word) pairs at one distance."""

    captions: np.ndarray  # (n, D) normalised
    elements: np.ndarray  # (n, D) normalised
    item: np.ndarray  # (p,) memory item of each pair
    word: np.ndarray  # (p,) vocabulary index of each pair
    digest: str
    hub: np.ndarray  # (V,) mean evidence over the memory's own items (each left out of its own)
    scene_share: float = SCENE_SHARE  # similarity = this * cos(caption) + the rest * cos(element)

    def evidence(
        self,
        ctx_vec: np.ndarray,
        wvec: np.ndarray,
        n_words: int,
        lone_scene_min: float | None = None,
    ) -> Evidence:
        """Per vocabulary word, the share of this scene's nearest memory items
        (softmax-weighted by similarity) that hold it (0..1; compare it with
        :attr:`hub`, what a scene of the memory gets on average: "freedom" was
        written for 51 items, "heritage" for 2), and the similarity of the
        closest item that holds it (-1: none). With ``lone_scene_min``, a word
        only one of the nearest items holds gets no share when that item's
        caption is less alike than this (cosine) to the scene: one written
        scene unlike this one does not speak for it."""
        share = np.zeros(n_words, dtype=np.float32)
        best = np.full(n_words, -1.0, dtype=np.float32)
        if len(self.captions) == 0:
            return Evidence(share, best)
        scene = _product(self.captions, ctx_vec, 1)
        sim = self.scene_share * scene
        sim += (1 - self.scene_share) * _product(self.elements, wvec, CONCEPTS_KEPT)
        top = top_stable(sim, NEIGHBOURS)
        # only the nearest items have a weight (adding 0.0 changes no sum): their pairs,
        # in pair order, add what np.add.at over every pair adds, in the same order
        near = self._pairs.of(top)
        items, words = self.item[near], self.word[near]
        np.add.at(share, words, _weights(sim, top)[items].astype(np.float32))
        if lone_scene_min is not None:
            lone_far(share, items, words, scene, lone_scene_min)
        self._pairs.maximum_into(best, sim)
        return Evidence(share, best)

    @cached_property
    def _pairs(self) -> _PairIndex:
        return _PairIndex(self.item, self.word, len(self.captions))

    @property
    def words(self) -> np.ndarray:
        """The vocabulary indices the memory holds at its distance (sorted)."""
        return np.unique(self.word)


class _PairIndex:
    """The (item, word) pairs grouped by item and by word, built once per memory:
    an evidence read then touches only its nearest items' pairs, and takes every
    word's closest item with one reduction instead of ``np.maximum.at``."""

    def __init__(self, item: np.ndarray, word: np.ndarray, n_items: int) -> None:
        self.n_pairs = len(item)
        self.by_item = np.argsort(item, kind="stable")  # each item's pairs in pair order
        self.item_start = np.searchsorted(item[self.by_item], np.arange(n_items + 1))
        by_word = np.argsort(word, kind="stable")  # each word's pairs in pair order
        self.words, self.word_start = np.unique(word[by_word], return_index=True)
        self.item_by_word = item[by_word]

    def of(self, items: np.ndarray) -> np.ndarray:
        """Indices of the pairs of ``items`` (distinct), in pair order."""
        start = self.item_start[items]
        counts = self.item_start[items + 1] - start
        total = int(counts.sum())
        # pair k of the run: its item's first pair + k - the pairs of the items before
        first = np.repeat(start - np.cumsum(counts) + counts, counts)
        return np.sort(self.by_item[first + np.arange(total)])

    def maximum_into(self, best: np.ndarray, sim: np.ndarray) -> None:
        """``np.maximum.at(best, word, sim[item].astype(float32))``: per word, the
        same maxima taken in the same (pair) order, then against ``best``."""
        if not self.n_pairs:
            return
        held = np.maximum.reduceat(sim[self.item_by_word].astype(np.float32), self.word_start)
        best[self.words] = np.maximum(best[self.words], held)


def lone_far(
    share: np.ndarray, items: np.ndarray, words: np.ndarray, scene: np.ndarray, floor: float
) -> None:
    """Zero the share of the words that one of the nearest items alone holds
    (``items``/``words``: the nearest items' pairs, one per item and word) where
    that item's caption cosine to the scene (``scene``, per item) is under ``floor``."""
    alone = np.bincount(words, minlength=len(share))[words] == 1
    share[words[alone & (scene[items] < floor)]] = 0.0


def written_confidence(
    ev: Evidence,
    repeat: np.ndarray,
    coef: tuple[float, float, float] = (CONFIDENCE_BEST, CONFIDENCE_SHARE, CONFIDENCE_BIAS),
) -> np.ndarray:
    """Probability that raters accept a written word (``coef``: the closest item's
    similarity, the share and the bias of a fitted logistic; distance 5's by
    default, see :data:`CONFIDENCE_BEST`); 0 where the memory does not hold it."""
    best, share, bias = coef
    z = best * ev.best + share * ev.share + bias
    p = 1.0 / (1.0 + np.exp(-(z - REPEAT_LOGIT * repeat)))
    return np.where(ev.best > -1, p, 0.0)


def build_memory(
    items: Sequence[WrittenItem],
    digest: str,
    enc: Any,
    index: dict[str, int],
    distance: int,
    scene_share: float = SCENE_SHARE,
) -> WrittenMemory:
    """Embed the items' captions and elements (cached per encoder and content) and
    pair each item with its vocabulary words at ``distance``; an item's nearness to
    a scene weighs the captions' cosine by ``scene_share``, the elements' by the rest."""
    caps, els = _embedded(cache_dir() / f"written-{digest}-{_safe(enc.name)}.npz", enc, items)
    pairs = sorted(
        {
            (j, index[w])
            for j, it in enumerate(items)
            for w in it.words.get(distance, ())
            if w in index
        }
    )
    item = np.array([j for j, _ in pairs], dtype=np.int64)
    word = np.array([w for _, w in pairs], dtype=np.int64)
    hub = _hub(caps, els, item, word, len(index), scene_share)
    return WrittenMemory(caps, els, item, word, digest, hub, scene_share)


def _weights(sim: np.ndarray, top: np.ndarray | None = None) -> np.ndarray:
    """Softmax weights of the :data:`NEIGHBOURS` most similar items (0 elsewhere;
    ``top``: those items, best first, if already found)."""
    if top is None:
        top = top_stable(sim, NEIGHBOURS)
    weight = np.exp((sim[top] - sim[top[0]]) / TEMPERATURE)
    out = np.zeros(len(sim), dtype=np.float64)
    out[top] = weight / weight.sum()
    return out


def _hub(
    caps: np.ndarray,
    els: np.ndarray,
    item: np.ndarray,
    word: np.ndarray,
    n_words: int,
    scene_share: float = SCENE_SHARE,
) -> np.ndarray:
    """Every word's mean evidence when each memory item in turn is the scene
    (left out of its own neighbours)."""
    hub = np.zeros(n_words, dtype=np.float64)
    if len(caps) < 2:
        return hub.astype(np.float32)
    sims = scene_share * (caps @ caps.T) + (1 - scene_share) * (els @ els.T)
    np.fill_diagonal(sims, -np.inf)
    pairs = _PairIndex(item, word, len(caps))
    for row in sims:
        top = top_stable(row, NEIGHBOURS)
        near = pairs.of(top)  # the pairs of the only items with a weight, in pair order
        np.add.at(hub, word[near], _weights(row, top)[item[near]])
    return (hub / len(caps)).astype(np.float32)


_SHARED: dict[Path, tuple[np.ndarray, np.ndarray]] = {}


def _product(matrix: np.ndarray, vec: np.ndarray, keep: int) -> np.ndarray:
    """``matrix @ vec``; for the memory's own (read-only) arrays remembered per
    vector (:mod:`~evokegraph.ingest.products`: the same bits): a scene's vector is
    read once for all its elements, an element's once for every distance (the
    distances' memories share their arrays) and a concept's once per run."""
    if matrix.flags.writeable:
        return matrix @ vec
    return product(matrix, vec, keep)


def _embedded(path: Path, enc: Any, items: Sequence[WrittenItem]) -> tuple[np.ndarray, np.ndarray]:
    """The items' caption and element vectors (read-only), from ``path`` or encoded
    and saved there; the arrays of the last path are shared by every distance."""
    if path in _SHARED and len(_SHARED[path][0]) == len(items):
        return _SHARED[path]
    caps, els = _cached(path)
    if caps is None or els is None or len(caps) != len(items):
        caps = _encode(enc, [it.caption for it in items])
        els = _encode(enc, [it.element for it in items])
        _save(path, caps, els)
    for a in (caps, els):
        a.setflags(write=False)
    _SHARED.clear()
    _SHARED[path] = (caps, els)
    return caps, els


def _encode(enc: Any, texts: list[str]) -> np.ndarray:
    if not texts:
        return np.zeros((0, 1), dtype=np.float32)
    return np.asarray(enc.encode(texts), dtype=np.float32)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _cached(path: Path) -> tuple[np.ndarray | None, np.ndarray | None]:
    if not path.exists():
        return None, None
    try:
        with np.load(path, allow_pickle=False) as z:
            return z["captions"], z["elements"]
    except (OSError, ValueError, KeyError):
        return None, None  # a damaged cache is rebuilt


def _save(path: Path, caps: np.ndarray, els: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}.npz")
    np.savez(tmp, captions=caps, elements=els)
    os.replace(tmp, path)  # atomic: a killed build leaves no half-written cache


EMPTY_MEMORY = WrittenMemory(
    np.zeros((0, 1), np.float32),
    np.zeros((0, 1), np.float32),
    np.zeros(0, np.int64),
    np.zeros(0, np.int64),
    "",
    np.zeros(0, np.float32),
)
