"""ASSOCIATED_WITH rows from Arrow (write_plan.aggregate_table) equal the per-row path."""

from __future__ import annotations

from evokegraph.graph import write_plan as W


def test_aggregate_table_equals_aggregate_rows() -> None:
    """The Arrow/numpy rebuild gives the rows (and bits) of the per-row path,
    whatever order the EVOKES rows come in."""
    import random

    import pyarrow as pa

    rng = random.Random(7)
    rows = []
    for _ in range(3000):
        src, tgt = f"c{rng.randrange(30)}", f"c{rng.randrange(30)}"
        rows.append(
            {
                "source": src,
                "image_id": f"i{rng.randrange(40)}",
                "target": tgt,
                "distance": rng.randrange(1, 6),
                "weight": rng.random(),
            }
        )
    groups: dict[tuple[str, str, int], list[dict[str, object]]] = {}
    for r in rows:
        if r["source"] != r["target"]:
            groups.setdefault((r["source"], r["target"], r["distance"]), []).append(r)  # type: ignore[arg-type]
    expected = W.aggregate_rows(
        [
            {
                "source": s,
                "target": t,
                "distance": d,
                "support": len({r["image_id"] for r in g}),
                "weights": [r["weight"] for r in g],
            }
            for (s, t, d), g in sorted(groups.items())
        ]
    )
    for order in (rows, rows[::-1]):
        got = W.aggregate_table(pa.Table.from_pylist(order)).to_pylist()
        assert got == expected
    assert {r["support"] for r in expected} >= {1, 2}  # single- and several-image groups
    assert any(len(g) > len({r["image_id"] for r in g}) for g in groups.values())
    self_loop = [rows[0] | {"target": rows[0]["source"]}]
    assert W.aggregate_table(pa.Table.from_pylist(self_loop)).num_rows == 0
