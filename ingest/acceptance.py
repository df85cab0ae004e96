"""The acceptance model: how likely a careful reader accepts a candidate word.

The contextual miner's hand-weighted score (:mod:`evokegraph.ingest.contextual`)
ranks its whole vocabulary per distance; its best candidates are then re-scored
by a per-distance logistic regression over the same score terms (cosine to the
element and to the scene, concreteness misfit, WordNet relations, Empath theme
scores, felt-ness, polarity agreement, ...), fitted by
``bench/fit_acceptance.py`` on human ratings: blind raters' accept/reject
marks on words in their scenes (earlier rounds' sheets, whose figures were
reported before they were used to fit) and the tuning scenes' reference words
against other scenes' words. Never on the held-out scenes a round reports.

``probability(d, features)`` is the model's probability that the word is
accepted as an association of the element, in that scene, at about that
distance: the miner keeps and orders its words by it, and :attr:`Evocation.score`
and ``EVOKES.weight`` carry it recalibrated per distance on blind ratings
(:data:`~evokegraph.ingest.contextual.WEIGHT_CALIBRATION`, version 36), so a
weight of 0.7 means the same thing on every image. The weights live in
``evokegraph/data/acceptance.json``; the miner's settings hold its digest, so
a refit changes the stage key and stored associations are recomputed.

Pure numpy over arrays the miner already computed.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources

import numpy as np

from evokegraph.digests import settings_digest

FEATURES = (
    "hand",  # the hand-weighted score itself
    "sw",  # cosine to the element word
    "sc",  # cosine to the scene (its captions)
    "sw_rel",  # sw against the other candidates (standard scores)
    "sc_rel",  # sc against the other candidates (standard scores)
    "sc_z",  # sc against the background scenes' (how specific to this scene)
    "off",  # concreteness points away from the distance's aim
    "conc",  # concreteness (Brysbaert, 1-5)
    "zipf",  # word frequency above the vocabulary's floor
    "hub",  # mean cosine to common concrete nouns
    "generic",  # share of background scenes that would also pick it
    "wn_syn",  # a lemma of the element's context sense
    "wn1",  # WordNet: hyponym / similar
    "wn2",  # WordNet: hypernym / see-also
    "wn3",  # WordNet: part, whole, sister
    "wn4",  # WordNet: topic domain
    "other_class",  # a noun of another lexicographer class than the element's sense
    "in_scene",  # one of the scene's other elements
    "scene_class",  # a noun class of things and situations
    "topical",  # share of the element's Empath themes it is in
    "about",  # share of the scene's Empath themes it is in
    "affinity",  # closeness to the element's feeling themes, minus theme-hubness
    "named",  # names a theme of the element or scene
    "felt_prior",  # Lancaster interoception, centred
    "felt",  # a member of an Empath feeling theme
    "polarity",  # agreement with the scene's polarity
    "repeat",  # uses by the image's other elements (held out of the fit)
    "extra",  # a WordNet lemma outside the vocabulary
    "poly",  # log1p of the word's number of WordNet senses (in the distance's POS)
    "gen",  # steps up the hierarchy from the element's sense to the word's first sense
    "wn_rare",  # a WordNet relative of a rare sense of the element (log1p of its rank)
    "feeling",  # its most frequent noun sense names a feeling (noun.feeling)
)
FIXED = ("repeat",)  # given a fixed weight by the fit, not fitted: no rated row varies them
MODEL_FILE = "acceptance.json"  # in the evokegraph.data package


@dataclass(frozen=True)
class AcceptanceModel:
    """Per distance: weights over :data:`FEATURES` and a bias (on raw features)."""

    weights: dict[int, np.ndarray]
    bias: dict[int, float]
    low: dict[int, np.ndarray]  # each feature is held to the range it had in the fit
    high: dict[int, np.ndarray]
    digest: str

    def probability(self, d: int, features: dict[str, np.ndarray], rows: np.ndarray) -> np.ndarray:
        """Acceptance probability of the candidates ``rows`` at distance ``d``."""
        # the rows first, then float64: the same values, without widening every word
        x = np.stack([np.asarray(features[k])[rows].astype(np.float64) for k in FEATURES], 1)
        x = np.clip(x, self.low[d], self.high[d])
        return 1.0 / (1.0 + np.exp(-(x @ self.weights[d] + self.bias[d])))


def model_from_json(data: dict) -> AcceptanceModel:
    names = list(data["features"])
    if names != list(FEATURES):
        from evokegraph.errors import ModelError

        raise ModelError(
            "acceptance.json was fitted on other features; refit: python bench/fit_acceptance.py"
        )
    weights = {
        int(d): np.array(v["weights"], dtype=np.float64) for d, v in data["distances"].items()
    }
    bias = {int(d): float(v["bias"]) for d, v in data["distances"].items()}
    low = {int(d): np.array(v["low"], dtype=np.float64) for d, v in data["distances"].items()}
    high = {int(d): np.array(v["high"], dtype=np.float64) for d, v in data["distances"].items()}
    return AcceptanceModel(weights, bias, low, high, settings_digest(data, 12))


def _packaged(name: str, fix: str) -> dict:
    """One of the fitted JSON files shipped in ``evokegraph/data``."""
    path = resources.files("evokegraph.data") / name
    if not path.is_file():
        from evokegraph.errors import ModelError

        raise ModelError(f"evokegraph/data/{name} is missing; reinstall evokegraph, or {fix}")
    return json.loads(path.read_text())


@functools.cache
def acceptance_model() -> AcceptanceModel:
    """The shipped model (``evokegraph/data/acceptance.json``)."""
    return model_from_json(_packaged(MODEL_FILE, "fit it: python bench/fit_acceptance.py --write"))


REJECTED_FILE = "rejected.json"  # in the evokegraph.data package


@functools.cache
def rejected_words() -> tuple[frozenset[str], str]:
    """Words blind raters kept rejecting at distances 4-5 (``bench/fit_rejected.py``:
    proposed in 4+ scenes, accepted at most 1 in 5) and the list's digest."""
    data = _packaged(REJECTED_FILE, "write it: python bench/fit_rejected.py --write")
    return frozenset(data["words"]), settings_digest(data, 12)
