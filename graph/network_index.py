"""The shared ASSOCIATED_WITH network in memory, for processes that read much of it.

Depth 6-7 contexts and the explorer's graph page read the strongest shared
edges of one concept at a time: one anchored query each (~0.6 ms at 100k
images, almost all of it the engine reading the concept's ~250 edges and their
names). A process that reads many of them (a server, a captioning run) pays far
more in those queries than reading the whole network once.

So a store counts the concepts it has read this way, per write version of the
KB; once their queries have cost about what loading the network would
(``edges / EDGES_PER_QUERY`` concepts: the ski-rental rule, never more than
twice the cheaper choice), it loads the network as sorted arrays
(:mod:`~evokegraph.graph.kb_cache`, kept until the next write) and answers
from them: the same rows, in the same order, as the queries below would.
Nothing here changes what is stored.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from evokegraph.graph import kb_cache

# Reading one concept's edges costs about what loading this many edges in bulk costs.
EDGES_PER_QUERY = 500

Q_NODES = "MATCH (c:Concept) RETURN offset(id(c)) AS o, c.name AS name, c.pos AS pos"
Q_EDGES = (
    "MATCH (a:Concept)-[r:ASSOCIATED_WITH]->(b:Concept) "
    "RETURN offset(id(a)) AS s, offset(id(b)) AS t, r.distance AS d, r.weight AS w, r.support AS n"
)
Q_EDGE_COUNT = "MATCH ()-[r:ASSOCIATED_WITH]->() RETURN count(r) AS n"


@dataclass(frozen=True)
class Adjacency:
    """Edges grouped by one end, each group sorted by (weight desc, other end's
    name, distance): ``ptr[i]:ptr[i+1]`` are concept ``i``'s."""

    ptr: np.ndarray
    other: np.ndarray
    distance: np.ndarray
    weight: np.ndarray
    support: np.ndarray

    def rows(self, i: int) -> range:
        return range(int(self.ptr[i]), int(self.ptr[i + 1]))


@dataclass(frozen=True)
class Network:
    names: list[str]  # by dense concept number
    pos: list[str | None]
    number: dict[str, int]
    both: Adjacency  # every edge under each end, grouped by the concept asked about
    outgoing: np.ndarray  # per row of ``both``: the concept asked about is the edge's source

    def shared_rows(self, name: str, max_distance: int, k: int) -> list[list[Any]]:
        """Q_SHARED_TOP's rows: (source, target, distance, weight, pos), the
        ``k`` strongest edges either way with distance <= ``max_distance``."""
        i = self.number.get(name)
        if i is None:
            return []
        a, b = int(self.both.ptr[i]), int(self.both.ptr[i + 1])
        dist = self.both.distance[a:b].tolist()
        out: list[list[Any]] = []
        for j, d in enumerate(dist):
            if d <= max_distance:
                o = int(self.both.other[a + j])
                w = float(self.both.weight[a + j])
                out.append([name, self.names[o], d, w, self.pos[o]])
                if len(out) == k:
                    break
        return out

    def hop_rows(self, name: str, outgoing: bool, k: int) -> list[dict[str, Any]]:
        """The graph page's Q_HOP_OUT / Q_HOP_IN rows (src, dst, d, w, s)."""
        i = self.number.get(name)
        if i is None:
            return []
        adj, rows = self.both, list[dict[str, Any]]()
        for j in adj.rows(i):
            if bool(self.outgoing[j]) != outgoing:
                continue
            if len(rows) == k:
                break
            o = self.names[int(adj.other[j])]
            src, dst = (name, o) if outgoing else (o, name)
            d, w, s = int(adj.distance[j]), float(adj.weight[j]), int(adj.support[j])
            rows.append({"src": src, "dst": dst, "d": d, "w": w, "s": s})
        return rows


def _grouped(key: np.ndarray, order: np.ndarray, cols: tuple[np.ndarray, ...], n: int) -> Adjacency:
    other, distance, weight, support = (c[order] for c in cols)
    ptr = np.searchsorted(key[order], np.arange(n + 1), side="left")
    # ~17 bytes per row (each edge is a row under both its ends)
    small = (other.astype(np.int32), distance.astype(np.int8), support.astype(np.int32))
    return Adjacency(ptr, small[0], small[1], weight, small[2])


def _places(w: np.ndarray) -> np.ndarray:
    """Each weight's place among all, largest first; equal weights share one."""
    order = np.argsort(-w, kind="stable")
    ws = w[order]
    place = np.empty(len(w), dtype=np.int64)
    place[order] = np.cumsum(np.concatenate([[False], ws[1:] != ws[:-1]]))
    return place


def _break_ties(order: np.ndarray, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """``order`` (sorted by ``first``) with each run of equal ``first`` sorted
    by ``second`` (equal weights of one concept: rare, so sorted apart)."""
    f = first[order]
    tied = np.zeros(len(order), dtype=bool)
    same = f[1:] == f[:-1]
    tied[1:] |= same
    tied[:-1] |= same
    if tied.any():
        at = np.flatnonzero(tied)
        sub = order[at]
        order[at] = sub[np.lexsort((second[sub], first[sub]))]
    return order


def build(nodes: pa.Table, edges: pa.Table) -> Network:
    """The network from Q_NODES and Q_EDGES tables (concepts numbered densely)."""
    offsets = nodes.column("o").to_numpy()
    names = nodes.column("name").to_pylist()
    dense = np.full(int(offsets.max()) + 1 if len(offsets) else 1, -1, dtype=np.int64)
    dense[offsets] = np.arange(len(offsets))
    by_name = sorted(range(len(names)), key=names.__getitem__)
    rank = np.empty(len(names), dtype=np.int64)
    rank[by_name] = np.arange(len(names))
    s = dense[edges.column("s").to_numpy()]
    t = dense[edges.column("t").to_numpy()]
    d = edges.column("d").to_numpy(zero_copy_only=False).astype(np.int64)
    w = edges.column("w").to_numpy(zero_copy_only=False)
    sup = edges.column("n").fill_null(0).to_numpy(zero_copy_only=False)
    n, m = len(names), len(s)
    # every edge twice: once under its source (out), once under its target (in)
    key, other = np.concatenate([s, t]), np.concatenate([t, s])
    d2, w2, sup2 = np.concatenate([d, d]), np.concatenate([w, w]), np.concatenate([sup, sup])
    # sorted like (key, -weight, other end's name, distance): two stable sorts
    # on packed int64 keys (np.lexsort's float key was 3x slower)
    places = _places(w)
    first = (key << 32) | np.concatenate([places, places])
    order = _break_ties(np.argsort(first, kind="stable"), first, (rank[other] << 8) | d2)
    cols = (other, d2, w2, sup2)
    return Network(
        names=names,
        pos=nodes.column("pos").to_pylist(),
        number={name: i for i, name in enumerate(names)},
        both=_grouped(key, order, cols, n),
        outgoing=order < m,
    )


_LOCK = threading.Lock()
# KB -> (write version, concepts whose edges were read by query at that version)
_READS: dict[Hashable, tuple[Hashable, int]] = {}


def network(store: Any, concepts_read: int) -> Network | None:
    """The KB's network when it is loaded or worth loading now, after this
    process has read ``concepts_read`` more concepts' edges by query; None
    while queries are still the cheaper way (or the store cannot load it)."""
    if not all(hasattr(store, a) for a in ("write_version", "cache_identity", "_arrow_rows")):
        return None
    loaded = kb_cache.peek(store, "shared network")
    if loaded is not None:
        return loaded  # type: ignore[no-any-return,unused-ignore]
    ident, version = store.cache_identity(), store.write_version()
    with _LOCK:
        seen, reads = _READS.get(ident, (version, 0))
        reads = (reads if seen == version else 0) + concepts_read
        _READS[ident] = (version, reads)
    if reads <= _edge_count(store) / EDGES_PER_QUERY:
        return None
    return kb_cache.cached(store, "shared network", lambda: _load(store))


def _edge_count(store: Any) -> int:
    return int(kb_cache.cached(store, "ASSOCIATED_WITH count", lambda: _count(store)))


def _count(store: Any) -> int:
    return int(store._run(Q_EDGE_COUNT)[0][0])


def _load(store: Any) -> Network:
    return build(store._arrow_rows(Q_NODES), store._arrow_rows(Q_EDGES))
