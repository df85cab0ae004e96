"""The ``contextual+llm`` miner: the contextual miner's words first, an LLM's where
it leaves a distance short of coverage.

The contextual miner leaves a slot empty rather than fill it with a word raters
would more likely reject (docs/content.md), so some elements keep fewer words at
a distance than :data:`~evokegraph.levels.COVERAGE_MIN_WORDS` (2 at distances
1-3, 1 at 4-5; distance 1 is the shortest: WordNet has two near synonyms for a
third of the things people photograph). The published method takes every word
from an LLM. This miner keeps the contextual miner's words, each with its
calibrated weight, and asks the LLM (``--llm ENGINE:MODEL``, the ``llm`` miner's
project prompt) only about the elements with a short distance, one request per
image; of its answer it adds, per short distance, the first words that no
distance of that element holds yet, up to the count coverage asks for. An added
word carries no score of its own (an LLM gives none): its weight is the rank
formula's (:mod:`evokegraph.weights`), its rank counted after the contextual
miner's words.

A malformed or failed answer fails the image as the ``llm`` miner does (recorded,
retried by the next run), since the stage's output is both miners' words.

**Untested here with a real LLM**: no LLM weights or API are reachable where this
was built; the tests run it on a stand-in engine with the chat engines' interface.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from evokegraph.ingest.contextual import ContextualMiner, near_duplicate
from evokegraph.ingest.models.backends import LLMMiner
from evokegraph.ingest.options import ContextualOptions
from evokegraph.ingest.stages import MINERS, MiningInput
from evokegraph.levels import COVERAGE_MIN_WORDS, DISTANCES
from evokegraph.records import Evocation
from evokegraph.runs import Failed

VERSION = 1


class GapFillOptions(ContextualOptions):
    """The ``contextual+llm`` miner: the contextual miner's options (its model: ``--llm``)."""


def _per_slot(evocations: Iterable[Evocation]) -> Counter[tuple[str, int]]:
    """How many words each (element, distance) holds."""
    return Counter((ev.element, ev.distance) for ev in evocations)


def short_slots(
    evocations: Iterable[Evocation], elements: Sequence[str], need: Mapping[int, int]
) -> dict[str, list[int]]:
    """Per element (in ``elements``' order), the distances holding fewer words
    than ``need`` asks (elements with none left out)."""
    count = _per_slot(evocations)
    out: dict[str, list[int]] = {}
    for el in elements:
        short = [d for d in DISTANCES if count[el, d] < need.get(d, 0)]
        if short:
            out[el] = short
    return out


def fill_gaps(
    base: Sequence[Evocation], extra: Iterable[Evocation], need: Mapping[int, int]
) -> list[Evocation]:
    """``base`` with ``extra``'s words added where a distance of an element holds
    fewer than ``need`` asks: in ``extra``'s order (distance, then rank), never
    the element itself, a near duplicate of it, nor a word any distance of that
    element already holds; each added word ranked after the distance's words,
    with no score. A pure transform."""
    out = list(base)
    count = _per_slot(out)
    taken: dict[str, list[str]] = {}  # per element: itself and its words
    for ev in out:
        taken.setdefault(ev.element, [ev.element]).append(ev.concept)
    for ev in sorted(extra, key=lambda e: (e.element, e.distance, e.rank)):
        n = count[ev.element, ev.distance]
        words = taken.setdefault(ev.element, [ev.element])
        if n >= need.get(ev.distance, 0) or any(near_duplicate(ev.concept, w) for w in words):
            continue
        out.append(ev.model_copy(update={"rank": n, "score": None}))
        words.append(ev.concept)
        count[ev.element, ev.distance] = n + 1
    return out


class GapFillMiner:
    """The contextual miner's words; an LLM's where a distance is short of coverage."""

    name = "contextual+llm"

    def __init__(self, spec: str = "", progress: Any = None, **given: Any) -> None:
        """``given``: the contextual miner's options (:class:`GapFillOptions`); the
        rest (engine, cache, policy, loader settings) go to the LLM's miner."""
        own = {k: v for k, v in given.items() if k in GapFillOptions.model_fields}
        self.options = GapFillOptions(**own)
        self.base = ContextualMiner(progress=progress, **self.options.model_dump())
        llm = {k: v for k, v in given.items() if k not in own}
        self.llm = LLMMiner(spec, per_distance=self.options.per_distance, **llm)

    def settings(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "contextual": self.base.settings(),
            "llm": self.llm.settings(),
            "need": sorted(COVERAGE_MIN_WORDS.items()),
        }

    def load(self, progress: Any = None) -> None:
        self.base.load(progress)

    def mine(self, items: Sequence[MiningInput]) -> list[list[Evocation] | Failed]:
        first = self.base.mine(items)
        asks: list[tuple[int, MiningInput]] = []
        for n, (it, got) in enumerate(zip(items, first, strict=True)):
            if isinstance(got, Failed):
                continue
            short = short_slots(got, [e.concept for e in it.elements], COVERAGE_MIN_WORDS)
            if short:
                elements = [e for e in it.elements if e.concept in short]
                asks.append((n, MiningInput(it.item, it.description, elements)))
        answers = self.llm.mine([a for _, a in asks]) if asks else []
        out = list(first)
        for (n, _), answer in zip(asks, answers, strict=True):
            got = first[n]
            if isinstance(answer, Failed):
                out[n] = Failed(f"gap fill: {answer.reason}", raw=answer.raw)
            elif not isinstance(got, Failed):
                out[n] = fill_gaps(got, answer, COVERAGE_MIN_WORDS)
        return out


MINERS.add(
    "contextual+llm",
    GapFillMiner,
    "the contextual miner's words; an LLM fills each distance it leaves short (--llm ENGINE:MODEL)",
    GapFillOptions,
)
