"""The pair reads both backends share: constant Cypher, values as parameters.

Rows go to :mod:`evokegraph.pairs`, which owns the pair format.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from evokegraph.pairs import Pair, literal_pairs, pair_from_row

Row = dict[str, Any]
PAIRS_PAGE = 10_000

Q_LITERAL_PAIRS = (
    "MATCH (i:Image) RETURN i.id AS image_id, i.uris AS uris, i.captions AS captions, "
    "i.split AS split ORDER BY image_id"
)


def pairs_query(
    depths: Sequence[int] | None, min_weight: float, realizer: str | None
) -> tuple[str, dict[str, Any]]:
    """Caption pairs, filtered; WHERE fragments are constants, values params."""
    where = ["c.weight >= $min_weight"]
    params: dict[str, Any] = {"min_weight": float(min_weight)}
    if depths is not None:
        where.append("c.depth IN $depths")
        params["depths"] = [int(d) for d in depths]
    if realizer is not None:
        where.append("c.realizer = $realizer")
        params["realizer"] = realizer
    cypher = (
        "MATCH (c:Caption)-[:DESCRIBES]->(i:Image) WHERE "
        + " AND ".join(where)
        + " RETURN c.image_id AS image_id, i.uris AS uris, c.text AS text, c.depth AS depth, "
        "c.weight AS weight, i.split AS split, c.realizer AS realizer, c.path AS path "
        "ORDER BY c.id SKIP $skip LIMIT $limit"
    )
    return cypher, params


def iter_pairs(
    read: Callable[[str, dict[str, Any]], list[Row]],
    depths: Sequence[int] | None,
    min_weight: float,
    realizer: str | None,
) -> Iterator[Pair]:
    """Caption pairs page by page through a backend's ``read`` (Cypher -> dict
    rows), then the images' literal captions as depth-0 pairs."""
    cypher, params = pairs_query(depths, min_weight, realizer)
    page = 0
    while True:
        rows = read(cypher, {**params, "skip": page * PAIRS_PAGE, "limit": PAIRS_PAGE})
        for r in rows:
            yield pair_from_row(r)
        if len(rows) < PAIRS_PAGE:
            break
        page += 1
    if (depths is None or 0 in depths) and realizer in (None, "literal"):
        for r in read(Q_LITERAL_PAIRS, {}):
            yield from literal_pairs(r)
