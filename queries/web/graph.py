"""Neighbourhood graphs for the browser's vis-network drawing.

The graphs are the ones ``evokegraph viz`` draws (networkx, built by
:mod:`evokegraph.queries.analytics`, capped by
:func:`evokegraph.queries.viz.cap_graph`, same colours), turned into
vis-network's ``{nodes, edges}`` JSON instead of a pyvis page. Labels and
hover titles are plain strings: vis-network draws labels on a canvas and shows
string titles as text, never as HTML.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import networkx as nx

from evokegraph.errors import UserInputError
from evokegraph.graph import network_index
from evokegraph.graph.store import GraphStore
from evokegraph.levels import MAX_EVOKES_DISTANCE
from evokegraph.queries import analytics
from evokegraph.queries.viz import DISTANCE_COLOURS, KIND_COLOURS, cap_graph
from evokegraph.queries.web.data import image_view, path_nodes
from evokegraph.records import ImageView

MAX_NODES = 150
HOP_LIMIT = 25  # strongest ASSOCIATED_WITH neighbours taken per concept and hop

Q_HOP_OUT = (
    "MATCH (a:Concept {name: $n})-[r:ASSOCIATED_WITH]->(b:Concept) "
    "RETURN a.name AS src, b.name AS dst, r.distance AS d, r.weight AS w, r.support AS s "
    "ORDER BY w DESC, dst LIMIT $k"
)
Q_HOP_IN = (
    "MATCH (b:Concept)-[r:ASSOCIATED_WITH]->(a:Concept {name: $n}) "
    "RETURN b.name AS src, a.name AS dst, r.distance AS d, r.weight AS w, r.support AS s "
    "ORDER BY w DESC, src LIMIT $k"
)


def image_graph(kb: GraphStore, ref: str, view: ImageView | None = None) -> nx.DiGraph:
    """An image, its elements, what they evoke, and the shared edges its
    captions' deeper paths travel (so every caption path can be highlighted)."""
    view = view or image_view(kb, ref)
    g = analytics.image_graph(kb, view.image.id)
    for c in view.captions:
        for s in c.path:
            if s.kind == "ASSOCIATED_WITH" and not g.has_edge(s.source, s.target):
                g.add_node(s.target, kind="concept")
                g.add_edge(s.source, s.target, kind=s.kind, distance=s.distance, weight=s.weight)
    return g


def caption_nodes(view: ImageView) -> set[str]:
    """Every graph node on one of the image's caption paths (kept when the
    drawing is capped, so a clicked caption's path is always drawn whole)."""
    return {n for c in view.captions for n in path_nodes(c.path)}


def concept_graph(
    kb: GraphStore,
    name: str,
    hops: int = 2,
    per_hop: int = HOP_LIMIT,
    max_nodes: int | None = None,
) -> nx.DiGraph:
    """A concept's neighbourhood in the shared network, read hop by hop
    (strongest ``per_hop`` edges each way per concept), never the whole graph.
    With ``max_nodes``, only the nodes :func:`to_vis` would keep are made into
    the graph (the concept and the strongest others, as ``cap_graph`` ranks
    them); ``g.graph["dropped"]`` counts the rest."""
    key = " ".join(name.split()).casefold()
    if not kb.query("MATCH (c:Concept {name: $n}) RETURN c.name AS n", {"n": key}):
        raise UserInputError(f"no concept {name!r} in the knowledge base; search the image grid")
    if not 1 <= hops <= 3:
        raise UserInputError(f"hops must be 1..3, got {hops}")
    # plain dicts first, one networkx graph at the end: ~2,400 nodes at 2 hops,
    # built node by node in networkx they cost more than reading them
    nodes: dict[str, None] = {key: None}
    edges: dict[tuple[str, str], dict[str, Any]] = {}
    frontier = [key]
    for _ in range(hops):
        nxt: set[str] = set()
        net = network_index.network(kb, 2 * len(frontier))  # in memory once it pays
        for n in frontier:
            for q in (Q_HOP_OUT, Q_HOP_IN):
                rows = (
                    net.hop_rows(n, q is Q_HOP_OUT, per_hop)
                    if net is not None
                    else kb.query(q, {"n": n, "k": per_hop})
                )
                for r in rows:
                    for c in (r["src"], r["dst"]):
                        if c not in nodes:
                            nodes[c] = None
                            nxt.add(c)
                    edges[r["src"], r["dst"]] = {
                        "kind": "ASSOCIATED_WITH",
                        "distance": r["d"],
                        "weight": r["w"],
                        "support": r["s"],
                    }
        frontier = sorted(nxt)
    dropped = 0
    if max_nodes is not None and len(nodes) > max_nodes:
        kept = _strongest(nodes, edges, max_nodes, key)
        dropped = len(nodes) - len(kept)
        nodes = {n: None for n in nodes if n in kept}
        edges = {e: d for e, d in edges.items() if e[0] in kept and e[1] in kept}
    g = nx.DiGraph(dropped=dropped) if dropped else nx.DiGraph()
    g.add_nodes_from(nodes, kind="concept")
    g.add_edges_from((a, b, d) for (a, b), d in edges.items())
    return g


def _strongest(
    nodes: dict[str, None], edges: dict[tuple[str, str], dict[str, Any]], k: int, key: str
) -> set[str]:
    """The ``k`` nodes ``cap_graph`` keeps of this graph, ``key`` among them: by total
    incident weight, summed in networkx's edge order (node by node, each one's
    successors as first added) so that the float sums are the same."""
    succ: dict[str, dict[str, dict[str, Any]]] = {}
    for (a, b), d in edges.items():
        succ.setdefault(a, {})[b] = d
    strength = dict.fromkeys(nodes, 0.0)
    for a in nodes:
        for b, d in succ.get(a, {}).items():
            w = float(d.get("weight") or 0.0)
            strength[a] += w
            strength[b] += w
    return set(sorted(nodes, key=lambda n: (n != key, -strength[n], n))[:k])


def _node(n: str, d: dict[str, Any]) -> dict[str, Any]:
    kind = d.get("kind", "concept")
    if kind == "image":
        image_id = d.get("id") or n.split(":", 1)[1]
        return {
            "id": n,
            "label": image_id[:8],
            "title": f"image {image_id}\n{d.get('captions', '')}".strip(),
            "shape": "image",
            "image": f"/thumb/{image_id}",
            "size": 36,
            "color": KIND_COLOURS["image"],
            "href": f"/image/{image_id}",
            "kind": kind,
        }
    label = d.get("concept") or n
    return {
        "id": n,
        "label": str(label),
        "title": "\n".join(f"{k}: {v}" for k, v in sorted(d.items()) if v not in (None, "")),
        "shape": "dot",
        "size": 18 if kind == "element" else 10,
        "color": KIND_COLOURS.get(kind, KIND_COLOURS["concept"]),
        "href": "/concept/" + quote(str(label), safe=""),
        "kind": kind,
    }


def to_vis(
    g: nx.DiGraph, *, max_nodes: int = MAX_NODES, keep: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """vis-network data for ``g``, capped to the strongest ``max_nodes``."""
    dropped_before = int(g.graph.get("dropped", 0))  # capped as it was read
    g, dropped = cap_graph(g, max_nodes, keep)
    dropped += dropped_before
    nodes = [_node(str(n), d) for n, d in sorted(g.nodes(data=True), key=lambda nd: str(nd[0]))]
    edges = []
    for a, b, d in sorted(g.edges(data=True), key=lambda e: (str(e[0]), str(e[1]))):
        dist = int(d.get("distance") or 0)
        w = float(d.get("weight") or 0.0)
        sup = f"\nsupport: {d['support']} images" if d.get("support") else ""
        edges.append(
            {
                "id": f"{a}\u2192{b}",
                "from": str(a),
                "to": str(b),
                "width": 1 + 6 * w,
                "color": DISTANCE_COLOURS.get(min(dist, MAX_EVOKES_DISTANCE), "#999999"),
                "title": f"{d.get('kind', '')} distance {dist}\nweight {w:.3f}{sup}",
                "arrows": "to",
            }
        )
    return {"nodes": nodes, "edges": edges, "dropped": dropped}
