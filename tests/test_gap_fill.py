"""The ``contextual+llm`` miner: the contextual miner's words, an LLM's where a
distance is short of coverage (on a stand-in engine: no LLM is reachable here)."""

from __future__ import annotations

import json

import pytest
from stand_ins import FakeEngine

from evokegraph.ingest.gap_fill import fill_gaps, short_slots
from evokegraph.ingest.stages import ImageItem, MiningInput
from evokegraph.levels import COVERAGE_MIN_WORDS
from evokegraph.records import Element, Evocation, ImageRecord
from evokegraph.runs import Failed
from evokegraph.weights import finalize


def _ev(element: str, word: str, d: int, rank: int, score: float | None = 0.8) -> Evocation:
    return Evocation(
        element=element, concept=word, surface=word, distance=d, rank=rank, score=score
    )


def test_short_slots_and_fill_gaps_add_only_what_coverage_asks() -> None:
    base = [
        _ev("pencil", "implement", 2, 0),
        *(_ev("pencil", w, 3, r) for r, w in enumerate(("desk", "exam"))),
        _ev("pencil", "study", 4, 0),
        _ev("pencil", "focus", 5, 0),
        *(_ev("desk", w, d, r) for d in (1, 2, 3) for r, w in enumerate((f"a{d}", f"b{d}"))),
        *(_ev("desk", f"c{d}", d, 0) for d in (4, 5)),
    ]
    assert short_slots(base, ["pencil", "desk"], COVERAGE_MIN_WORDS) == {"pencil": [1, 2]}
    extra = [
        *(
            _ev("pencil", w, 1, r, None)
            for r, w in enumerate(("pencils", "crayon", "pen", "marker", "quill"))
        ),
        *(_ev("pencil", w, 2, r, None) for r, w in enumerate(("implement", "desk", "tool", "x"))),
        _ev("pencil", "calm", 5, 0, None),  # distance 5 has its word: nothing added
    ]
    out = fill_gaps(base, extra, COVERAGE_MIN_WORDS)
    assert out[: len(base)] == base  # the contextual miner's words stay first, unchanged
    added = [(e.distance, e.concept, e.rank, e.score) for e in out[len(base) :]]
    # "pencils" is the element, "pen" an echo of it (the miners' near_duplicate),
    # "implement" and "desk" are already there
    assert added == [(1, "crayon", 0, None), (1, "marker", 1, None), (2, "tool", 1, None)]
    assert short_slots(out, ["pencil", "desk"], COVERAGE_MIN_WORDS) == {}
    # an added word has no score: its weight is the rank formula's (an LLM's list)
    weights = {e.concept: e.weight for e in finalize(out)}
    assert weights["crayon"] == pytest.approx(0.5**0.25) and weights["marker"] < weights["crayon"]
    assert weights["implement"] == pytest.approx(0.8)


def test_the_llm_is_asked_only_about_short_elements_and_a_bad_answer_fails_the_image(
    tmp_path,
) -> None:
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    pytest.importorskip("sentence_transformers")
    from evokegraph.ingest.stages import MINERS, load_backends

    load_backends()
    answer = {
        "pencil": {f"distance {d}": ["crayon", "pen", "stylus"] for d in range(1, 6)},
        "desk": {f"distance {d}": ["table", "bureau", "workspace"] for d in range(1, 6)},
    }
    eng = FakeEngine(json.dumps(answer))
    memory = tmp_path / "written.jsonl"  # one unrelated scene: the shipped memory may hold this one
    toy = {"caption": "a boy crying over a broken toy", "word": "toy", "d": {"5": ["loss"]}}
    memory.write_text(json.dumps(toy) + "\n")
    miner = MINERS.create("contextual+llm", engine=eng, cache="off", written=str(memory))
    caption = "a boy sharpening pencils at a desk before an exam"
    item = MiningInput(
        item=ImageItem(record=ImageRecord(id="a" * 64, captions=[caption])),
        description=caption,
        elements=[Element(name=w, concept=w, pos="NOUN") for w in ("pencil", "desk", "boy")],
    )
    before = miner.base.mine([item])[0]
    assert isinstance(before, list)
    short = short_slots(before, ["pencil", "desk", "boy"], COVERAGE_MIN_WORDS)
    assert "pencil" in short and 1 in short["pencil"]  # WordNet gives a pencil no near synonym
    (got,) = miner.mine([item])
    assert isinstance(got, list) and got[: len(before)] == before
    asked = set(eng.requests[0].json_schema["properties"])
    assert asked == set(short)  # one request, the short elements only
    d1 = [e.concept for e in got if e.element == "pencil" and e.distance == 1]
    assert len(d1) >= 2 and "crayon" in d1
    assert short_slots(got, ["pencil"], COVERAGE_MIN_WORDS).get("pencil", []) != [1]
    assert miner.settings()["contextual"] == miner.base.settings()
    # a malformed answer fails the image (recorded; the next run retries it)
    broken = FakeEngine("not json at all")
    (bad,) = MINERS.create("contextual+llm", engine=broken, cache="off", written=str(memory)).mine(
        [item]
    )
    assert isinstance(bad, Failed) and bad.reason.startswith("gap fill: malformed answer")
