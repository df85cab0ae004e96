"""Reads both backends implement the same way: an image's contexts and caption pairs.

:class:`SharedReads` runs the portable Cypher of
:mod:`~evokegraph.graph.cypher_text` through two primitives each backend
provides, and composes the paths with the pure
:func:`~evokegraph.graph.traversal.paths_at_depth`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from evokegraph.graph.cypher_text import Q_CONTEXT_EDGES, Q_ELEMENT_CONCEPTS
from evokegraph.graph.pair_reads import iter_pairs
from evokegraph.graph.traversal import Edge, paths_at_depth
from evokegraph.levels import check_depth
from evokegraph.records import ContextPath, Pair

Row = dict[str, Any]
SHARED_PER_SOURCE = 20  # strongest ASSOCIATED_WITH edges kept per concept and hop


def context_edges(
    rows: Sequence[Sequence[Any]], element_rows: Sequence[Sequence[Any]]
) -> tuple[list[Edge], list[str]]:
    """Rows of Q_CONTEXT_EDGES and Q_ELEMENT_CONCEPTS -> (edges, element concepts)."""
    edges = [Edge(r[0], r[1], int(r[2]), float(r[3]), r[4] or "NOUN") for r in rows]
    return edges, sorted({r[0] for r in element_rows})


def contexts(
    image_id: str,
    rows: Sequence[Sequence[Any]],
    element_rows: Sequence[Sequence[Any]],
    depths: Sequence[int],
    shared: Any,
    max_shared_hops: int,
) -> dict[int, list[ContextPath]]:
    for d in depths:
        check_depth(d)
    edges, elements = context_edges(rows, element_rows)
    return {
        d: paths_at_depth(
            image_id, edges, d, shared, max_shared_hops=max_shared_hops, exclude=elements
        )
        for d in depths
    }


def shared_edges(
    rows: Sequence[Sequence[Any]], per_source: int = SHARED_PER_SOURCE
) -> dict[str, list[Edge]]:
    out: dict[str, list[Edge]] = defaultdict(list)
    for r in rows:
        out[r[0]].append(Edge(r[0], r[1], int(r[2]), float(r[3]), r[4] or "NOUN"))
    return {
        k: sorted(v, key=lambda e: (-e.weight, e.target, e.distance))[:per_source]
        for k, v in out.items()
    }


class SharedReads:
    """Reads both backends implement the same way on top of two primitives:
    ``_rows(cypher, params)`` (positional rows) and ``_dict_rows(cypher,
    params)`` (dict rows), plus ``_shared`` (ASSOCIATED_WITH out of concepts)."""

    def _rows(self, cypher: str, params: dict[str, Any] | None = None) -> list[list[Any]]:
        raise NotImplementedError

    def _dict_rows(self, cypher: str, params: dict[str, Any] | None = None) -> list[Row]:
        raise NotImplementedError

    def _shared(self, concepts: Any, max_distance: int) -> dict[str, list[Edge]]:
        raise NotImplementedError

    def context(self, image_id: str, depth: int, *, max_shared_hops: int = 2) -> list[ContextPath]:
        return self.contexts(image_id, [depth], max_shared_hops=max_shared_hops)[depth]

    def contexts(
        self, image_id: str, depths: Sequence[int], *, max_shared_hops: int = 2
    ) -> dict[int, list[ContextPath]]:
        rows = self._rows(Q_CONTEXT_EDGES, {"id": image_id})
        elements = self._rows(Q_ELEMENT_CONCEPTS, {"id": image_id})
        return contexts(image_id, rows, elements, depths, self._shared, max_shared_hops)

    def iter_pairs(
        self,
        depths: Sequence[int] | None = None,
        min_weight: float = 0.0,
        realizer: str | None = None,
    ) -> Iterator[Pair]:
        return iter_pairs(self._dict_rows, depths, min_weight, realizer)
