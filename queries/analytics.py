"""Analytics over the association graph with networkx.

The graph is read with fixed Cypher (parameters only) into a
``networkx.DiGraph``: concepts as nodes (``kind="concept"``), shared
``ASSOCIATED_WITH`` edges with ``distance``, ``weight``, ``support``; or an
image's neighbourhood (image -> elements -> evoked concepts). Then PageRank,
degree, Louvain communities, the strongest associative path (maximum product
of weights = shortest path over ``-log(weight)``), GraphML/GEXF export.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import networkx as nx

from evokegraph.errors import UserInputError
from evokegraph.graph.store import GraphStore

Q_CONCEPTS = "MATCH (c:Concept) RETURN c.name AS name, c.pos AS pos, c.concreteness AS concreteness"
Q_ASSOCIATED = (
    "MATCH (a:Concept)-[r:ASSOCIATED_WITH]->(b:Concept) "
    "RETURN a.name AS source, b.name AS target, r.distance AS distance, r.weight AS weight, "
    "r.support AS support"
)
Q_IMAGE = (
    "MATCH (i:Image {id: $id})-[:HAS_ELEMENT]->(e:Element) "
    "MATCH (e)-[v:EVOKES]->(c:Concept) "
    "RETURN e.concept AS element, e.rank AS rank, c.name AS concept, v.distance AS distance, "
    "v.weight AS weight, v.run AS run, c.concreteness AS concreteness"
)
Q_IMAGE_NODE = "MATCH (i:Image {id: $id}) RETURN i.uris AS uris, i.captions AS captions"


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}  # GraphML has no null


def concept_graph(store: GraphStore) -> nx.DiGraph:
    """The whole shared association network."""
    g = nx.DiGraph()
    for r in store.query(Q_CONCEPTS):
        g.add_node(
            r["name"],
            **_clean({"kind": "concept", "pos": r["pos"], "concreteness": r["concreteness"]}),
        )
    for r in store.query(Q_ASSOCIATED):
        g.add_edge(
            r["source"],
            r["target"],
            kind="ASSOCIATED_WITH",
            distance=r["distance"],
            weight=r["weight"],
            support=r["support"],
        )
    return g


def ego_graph(g: nx.DiGraph, concept: str, hops: int) -> nx.DiGraph:
    if concept not in g:
        raise UserInputError(
            f"no concept {concept!r} in the knowledge base; try `evokegraph query run top_concepts`"
        )
    return nx.ego_graph(g, concept, radius=hops, undirected=True)


def image_graph(store: GraphStore, image_id: str) -> nx.DiGraph:
    """An image, its elements and what they evoke."""
    node = store.query(Q_IMAGE_NODE, {"id": image_id})
    if not node:
        raise UserInputError(f"no image {image_id!r}")
    g = nx.DiGraph()
    img = f"image:{image_id}"
    g.add_node(
        img,
        kind="image",
        id=image_id,
        uri=(node[0]["uris"] or [""])[0],
        captions=" | ".join(node[0]["captions"] or []),
    )
    for r in store.query(Q_IMAGE, {"id": image_id}):
        el = f"element:{r['element']}"
        g.add_node(el, kind="element", concept=r["element"], rank=r["rank"])
        g.add_edge(img, el, kind="HAS_ELEMENT", weight=1.0)
        g.add_node(r["concept"], **_clean({"kind": "concept", "concreteness": r["concreteness"]}))
        g.add_edge(
            el,
            r["concept"],
            kind="EVOKES",
            distance=r["distance"],
            weight=r["weight"],
            run=r["run"] or "",
        )
    return g


def pagerank(g: nx.DiGraph, top: int = 20) -> list[dict[str, Any]]:
    if g.number_of_nodes() == 0:
        return []
    pr = nx.pagerank(g, weight="weight")
    rows = [
        {
            "concept": n,
            "pagerank": pr[n],
            "in_degree": g.in_degree(n),
            "out_degree": g.out_degree(n),
        }
        for n in g
    ]
    return sorted(rows, key=lambda r: (-r["pagerank"], r["concept"]))[:top]


def communities(
    g: nx.DiGraph, resolution: float = 1.0, seed: int = 0, top: int = 20
) -> list[dict[str, Any]]:
    if g.number_of_nodes() == 0:
        return []
    parts = nx.community.louvain_communities(
        g.to_undirected(), weight="weight", resolution=resolution, seed=seed
    )
    parts = sorted((sorted(p) for p in parts), key=lambda p: (-len(p), p[0]))
    return [
        {
            "community": i,
            "size": len(p),
            "concepts": ", ".join(p[:12]) + (" ..." if len(p) > 12 else ""),
        }
        for i, p in enumerate(parts[:top])
    ]


def strongest_path(g: nx.DiGraph, source: str, target: str) -> list[dict[str, Any]]:
    """The path (either direction) with the largest product of weights."""
    for c in (source, target):
        if c not in g:
            raise UserInputError(f"no concept {c!r} in the knowledge base")
    u = nx.Graph()
    for a, b, d in g.edges(data=True):
        cost = -math.log(max(d["weight"], 1e-12))
        if not u.has_edge(a, b) or u[a][b]["cost"] > cost:
            u.add_edge(a, b, cost=cost, weight=d["weight"], distance=d.get("distance"))
    try:
        nodes = nx.shortest_path(u, source, target, weight="cost")
    except nx.NetworkXNoPath:
        raise UserInputError(f"no associative path between {source!r} and {target!r}") from None
    rows, total = [], 1.0
    for a, b in zip(nodes, nodes[1:], strict=False):
        e = u[a][b]
        total *= e["weight"]
        rows.append(
            {
                "from": a,
                "to": b,
                "distance": e["distance"],
                "weight": e["weight"],
                "path_weight": total,
            }
        )
    return rows


def path_graph(g: nx.DiGraph, steps: list[dict[str, Any]]) -> nx.DiGraph:
    """The edges of a :func:`strongest_path`, one per step, each in its stored
    direction (the stronger one where both directions are stored)."""
    out = nx.DiGraph()
    for s in steps:
        a, b = s["from"], s["to"]
        for n in (a, b):
            out.add_node(n, **g.nodes[n])
        fwd, back = g.get_edge_data(a, b), g.get_edge_data(b, a)
        if fwd is not None and (back is None or fwd["weight"] >= back["weight"]):
            out.add_edge(a, b, **fwd)
        else:
            out.add_edge(b, a, **back)
    return out


def export(g: nx.DiGraph, out: Path) -> Path:
    suffix = out.suffix.lower()
    if suffix == ".graphml":
        nx.write_graphml(g, out)
    elif suffix == ".gexf":
        nx.write_gexf(g, out)
    else:
        raise UserInputError(f"cannot export to {out.name}: use a .graphml or .gexf file name")
    return out
