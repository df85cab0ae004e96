"""Weights are computed once, by evokegraph.weights.finalize, from fields of the record."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch

from evokegraph.errors import RecordError
from evokegraph.graph.rows import evokes_rows
from evokegraph.ingest.models.grounding import ClipGrounder
from evokegraph.ingest.stages import ImageItem, MiningInput
from evokegraph.records import Element, Evocation, ImageEntry, ImageRecord
from evokegraph.weights import finalize

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]


class _FixedClip:
    """Image [1, 0]; every prompt [0.3, sqrt(1 - 0.09)]: each cosine is exactly 0.3."""

    def encode_images(self, images: list) -> torch.Tensor:
        return torch.tensor([[1.0, 0.0]] * len(images), dtype=torch.float64)

    def encode_texts(self, prompts: list[str]) -> torch.Tensor:
        return torch.tensor([[0.3, math.sqrt(1 - 0.09)]] * len(prompts), dtype=torch.float64)


def _grounder() -> ClipGrounder:
    g = object.__new__(ClipGrounder)
    g.clip = _FixedClip()
    return g


def test_grounding_keeps_agreement() -> None:
    """Rank 0, 3 mentions, cosine 0.3: the weight keeps the agreement factor.

    r = 1, a = 1 - 0.5**3 = 0.875, g = (0.3 - 0.10) / (0.35 - 0.10) = 0.8:
    weight = 1 * 0.875**0.25 * 0.8**0.25 = 0.7**0.25 = 0.91469... (it was 0.795
    when grounding recomputed the weight from the rank alone).
    """
    item = ImageItem(record=ImageRecord(id="a" * 64), image=object())
    inp = MiningInput(item=item, description="", elements=[Element(name="dog", concept="dog")])
    mined = [Evocation(element="dog", concept="loyalty", distance=4, rank=0, mentions=3)]
    assert finalize(mined)[0].weight == pytest.approx(0.875**0.25, abs=1e-12)  # 0.967 mined
    _grounder().ground([inp], [mined])
    assert mined[0].grounding == pytest.approx(0.3, abs=1e-12)
    (ev,) = finalize(mined)
    assert ev.weight == pytest.approx(0.7**0.25, abs=1e-9)
    assert round(ev.weight, 3) == 0.915
    assert ev.mentions == 3 and ev.rank == 0


def test_finalize_also_sets_other_fields_and_leaves_the_input_alone() -> None:
    ev = Evocation(element="dog", concept="park", distance=3, rank=1)
    (done,) = finalize([ev], run="r1")
    assert done.run == "r1" and done.weight == pytest.approx(math.sqrt(0.5) * 0.5**0.25)
    assert ev.weight is None and ev.run == ""


def test_a_miners_own_probability_is_the_weight_of_one_mention() -> None:
    """A scored word produced once weighs its probability (not x 0.84, as before
    contextual miner version 36); more mentions raise it, up to 1; grounding still counts."""
    from evokegraph.weights import evokes_weight

    assert evokes_weight(2, mentions=1, score=0.62) == pytest.approx(0.62, abs=1e-12)
    assert evokes_weight(0, mentions=3, score=0.62) == pytest.approx(0.62 * 1.75**0.25)
    assert evokes_weight(0, mentions=9, score=0.99) == 1.0
    assert evokes_weight(0, score=0.62, grounding=0.3) == pytest.approx(0.62 * 0.8**0.25)
    # without a score the rank-based weight is unchanged
    assert evokes_weight(1, mentions=1) == pytest.approx(math.sqrt(0.5) * 0.5**0.25)


def test_an_unfinalized_evocation_cannot_be_written() -> None:
    entry = ImageEntry(
        image=ImageRecord(id="b" * 64),
        elements=[Element(name="dog", concept="dog")],
        evocations=[Evocation(element="dog", concept="park", distance=3)],
    )
    with pytest.raises(RecordError, match=r"has no weight; .*weights\.finalize"):
        evokes_rows([entry])
    entry.evocations = finalize(entry.evocations or [])
    (row,) = evokes_rows([entry])
    assert row["weight"] == pytest.approx(0.5**0.25)


def test_the_weight_formula_is_called_only_by_finalize() -> None:
    """No stage computes a weight itself: ``evokes_weight(`` appears in the
    package only where it is defined and used, evokegraph/weights.py."""
    folders = ["evokegraph", "ingest", "graph", "captioning", "training", "queries"]
    callers = sorted(
        str(p.relative_to(ROOT))
        for f in folders
        for p in (ROOT / f).rglob("*.py")
        if re.search(r"\bevokes_weight\(", p.read_text(encoding="utf-8"))
    )
    assert callers == ["evokegraph/weights.py"]


def test_empty_concept_is_a_record_error() -> None:
    with pytest.raises(RecordError, match="empty concept key"):
        Evocation(element="dog", concept="   ", distance=1)
    with pytest.raises(RecordError, match="empty concept key"):
        Element(name="", concept="")


def test_aggregate_mean_does_not_depend_on_edge_order() -> None:
    """ASSOCIATED_WITH means are stored bit-identical whatever order a parallel
    engine visits the EVOKES edges in (avg() in the engine was not)."""
    from itertools import permutations

    from evokegraph.graph.write_plan import mean_weight

    ws = [0.1, 0.2, 0.3, 0.7]
    assert len({sum(p) for p in permutations(ws)}) > 1  # a plain sum would drift
    assert len({mean_weight({"weights": list(p)}) for p in permutations(ws)}) == 1
