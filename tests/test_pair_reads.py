"""graph/pair_reads.py: constant Cypher with parameters, pages, literal captions last."""

from __future__ import annotations

import json
from typing import Any

from evokegraph.graph import pair_reads as P


def test_filters_are_parameters_never_spliced() -> None:
    cypher, params = P.pairs_query([1, 3], 0.25, "template'); DROP")
    assert "DROP" not in cypher and "$depths" in cypher and "$realizer" in cypher
    assert params == {"min_weight": 0.25, "depths": [1, 3], "realizer": "template'); DROP"}
    bare, bare_params = P.pairs_query(None, 0, None)
    assert "$depths" not in bare and "$realizer" not in bare and bare_params == {"min_weight": 0.0}


def caption_row(n: int) -> dict[str, Any]:
    step = {"kind": "EVOKES", "source": "dog", "target": "bone", "distance": 1, "weight": 0.5}
    return {
        "image_id": f"{n:064x}",
        "uris": [f"{n}.jpg"],
        "text": f"caption {n}",
        "depth": 1,
        "weight": 0.5,
        "split": "",
        "realizer": "template",
        "path": json.dumps([step]),
    }


class Reader:
    """A backend's read: caption rows in pages, then the images' literal captions."""

    def __init__(self, captions: int) -> None:
        self.rows = [caption_row(n) for n in range(captions)]
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, cypher: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        self.calls.append((cypher, params))
        if cypher == P.Q_LITERAL_PAIRS:
            return [{"image_id": "a" * 64, "uris": ["a.jpg"], "captions": ["x", "x", "y"]}]
        return self.rows[params["skip"] : params["skip"] + params["limit"]]


def test_pages_until_a_short_one_then_literal_captions(monkeypatch: Any) -> None:
    monkeypatch.setattr(P, "PAIRS_PAGE", 2)
    read = Reader(5)
    pairs = list(P.iter_pairs(read, None, 0.0, None))
    assert [p.caption for p in pairs] == [f"caption {n}" for n in range(5)] + ["x", "y"]
    assert [c[1].get("skip") for c in read.calls] == [0, 2, 4, None]
    assert pairs[0].path[0].target == "bone" and pairs[-1].depth == 0
    assert pairs[-1].realizer == "literal" and pairs[-1].weight == 1.0


def test_literal_captions_only_where_depth_0_and_the_realizer_allow() -> None:
    for depths, realizer in (([1], None), (None, "template")):
        read = Reader(1)
        assert len(list(P.iter_pairs(read, depths, 0.0, realizer))) == 1
        assert all(c[0] != P.Q_LITERAL_PAIRS for c in read.calls)
    assert len(list(P.iter_pairs(Reader(0), [0], 0.0, "literal"))) == 2
