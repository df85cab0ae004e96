"""Edge weights, defined and computed in one place (bottom layer).

``EVOKES.weight`` (per image) combines three signals, each in [0, 1], all of
them fields of the :class:`~evokegraph.records.Evocation` record:

* rank (``Evocation.rank``): the miner's order among the candidates of one
  element and distance, ``r = 1 / (1 + rank)`` (rank 0 is the model's first
  choice);
* agreement (``Evocation.mentions``): how many times the same association was
  produced for this element (repeated sampling, several captions),
  ``a = 1 - 0.5 ** mentions``;
* grounding (``Evocation.grounding``): CLIP cosine between the image and a
  prompt holding the word, rescaled by :func:`grounding_score` (``None`` when
  no CLIP model ran).

For miners that give no confidence of their own (an LLM's ranked list)
``weight = r ** 0.5 * a ** 0.25 * g ** 0.25``. For a miner that does
(``Evocation.score``: the contextual miner's probability that blind raters
accept the word, recalibrated per distance on their ratings, comparable across
images and elements) ``weight = c * (a / a1) ** 0.25 * g ** 0.25``, capped at 1,
where ``a1`` is the agreement of one mention: a word produced once keeps its
probability (before version 36 of the contextual miner it was multiplied by
``a1 ** 0.25`` = 0.84, and a weight understated how often raters accepted it),
and repeated mentions raise it. The grounding factor is left out when grounding
is unknown. Miners set rank and mentions, the grounding
stage sets the cosine, and :func:`finalize` (called once, when the ingest
pipeline turns answers into entries) writes ``weight``; nothing else computes
it, and the store refuses an evocation whose weight was never finalized.

``ASSOCIATED_WITH.weight`` aggregates the per-image weights of one (concept,
concept, distance) over all images: ``mean_weight * support / (support + 1)``,
so an association seen in one image counts half as much as the same weight
seen in many.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from evokegraph.records import Evocation


def rank_score(rank: int) -> float:
    return 1.0 / (1.0 + max(rank, 0))


def agreement_score(mentions: int) -> float:
    return 1.0 - 0.5 ** max(mentions, 1)


def grounding_score(cosine: float, low: float = 0.10, high: float = 0.35) -> float:
    """Map a CLIP cosine onto [0, 1]; ViT-B-32 cosines live around 0.1..0.35."""
    return min(1.0, max(0.0, (cosine - low) / (high - low)))


def evokes_weight(
    rank: int, mentions: int = 1, grounding: float | None = None, score: float | None = None
) -> float:
    """The formula; call :func:`finalize` on records rather than this directly."""
    if score is None:
        w = math.sqrt(rank_score(rank)) * agreement_score(mentions) ** 0.25
    else:  # a probability of its own: one mention keeps it, more raise it
        w = score * (agreement_score(mentions) / agreement_score(1)) ** 0.25
    if grounding is not None:
        w *= max(grounding_score(grounding), 1e-3) ** 0.25
    return float(min(1.0, max(0.0, w)))


def finalize(evocations: Iterable[Evocation], **update: object) -> list[Evocation]:
    """Copies of ``evocations`` with ``weight`` computed from rank, mentions and
    grounding (and any other field in ``update``, e.g. ``run``)."""
    return [
        ev.model_copy(
            update={**update, "weight": evokes_weight(ev.rank, ev.mentions, ev.grounding, ev.score)}
        )
        for ev in evocations
    ]


def aggregate_weight(mean_weight: float, support: int) -> float:
    return float(mean_weight * support / (support + 1))
