"""Edge weights, defined in one place.

``EVOKES.weight`` (per image) combines three signals, each in [0, 1]:

* rank: the miner's order among the candidates of one element and distance,
  ``r = 1 / (1 + rank)`` (rank 0 is the model's first choice);
* grounding: CLIP cosine between the image and a prompt holding the word,
  rescaled by :func:`grounding_score` (``None`` when no CLIP model ran);
* agreement: how many times the same association was produced for this
  element (repeated sampling, several captions), ``a = 1 - 0.5 ** mentions``.

``weight = r ** 0.5 * a ** 0.25 * g ** 0.25`` (the grounding factor is left
out when grounding is unknown). ``ASSOCIATED_WITH.weight`` aggregates the
per-image weights of one (concept, concept, distance) over all images:
``mean_weight * support / (support + 1)``, so an association seen in one
image counts half as much as the same weight seen in many.
"""

from __future__ import annotations

import math


def rank_score(rank: int) -> float:
    return 1.0 / (1.0 + max(rank, 0))


def agreement_score(mentions: int) -> float:
    return 1.0 - 0.5 ** max(mentions, 1)


def grounding_score(cosine: float, low: float = 0.10, high: float = 0.35) -> float:
    """Map a CLIP cosine onto [0, 1]; ViT-B-32 cosines live around 0.1..0.35."""
    return min(1.0, max(0.0, (cosine - low) / (high - low)))


def evokes_weight(rank: int, mentions: int = 1, grounding: float | None = None) -> float:
    w = math.sqrt(rank_score(rank)) * agreement_score(mentions) ** 0.25
    if grounding is not None:
        w *= max(grounding_score(grounding), 1e-3) ** 0.25
    return float(min(1.0, max(0.0, w)))


def aggregate_weight(mean_weight: float, support: int) -> float:
    return float(mean_weight * support / (support + 1))
