"""Interactive graph pages with pyvis, self-contained and offline.

pyvis builds the vis-network page; :func:`offline_html` then removes every
external ``<script src>``/``<link href>`` (pyvis's "in_line" mode still links
Bootstrap from a CDN and a local ``node_modules`` path) so the file works with
no network. Images are drawn as thumbnails (data URIs), elements and concepts
coloured by type, edge width by weight, edge colour by distance, hover text
with weights and provenance, a legend, and a cap on the number of nodes
(strongest first) with a note in the page. Physics runs until the layout is
stable and then stops; the page then writes the number of drawn nodes into
``<body data-drawn-nodes=...>`` (used by the browser test).
"""

from __future__ import annotations

import base64
import html
import io
import re
from pathlib import Path
from typing import Any

import networkx as nx

from evokegraph.levels import MAX_EVOKES_DISTANCE

DEFAULT_MAX_NODES = 300
KIND_COLOURS = {"image": "#444444", "element": "#f28e2b", "concept": "#4e79a7"}
DISTANCE_COLOURS = {
    0: "#999999",  # HAS_ELEMENT
    1: "#59a14f",
    2: "#8cd17d",
    3: "#edc948",
    4: "#e15759",
    5: "#b07aa1",
}
_EXTERNAL = re.compile(
    r"<script\b[^>]*\bsrc\s*=\s*\"[^\"]*\"[^>]*>\s*</script>|<link\b[^>]*\bhref\s*=\s*\"[^\"]*\"[^>]*/?>",
    re.IGNORECASE | re.DOTALL,
)
_AFTER_DRAW = """
<script type="text/javascript">
  (function () {
    function done() {
      network.setOptions({physics: false});
      document.body.setAttribute("data-drawn-nodes", String(network.body.data.nodes.length));
      document.body.setAttribute("data-drawn-edges", String(network.body.data.edges.length));
    }
    if (network.physics && network.physics.options.enabled) {
      network.once("stabilizationIterationsDone", done);
      setTimeout(done, 8000);  // never spin forever
    } else { network.once("afterDrawing", done); }
  })();
</script>
"""


def thumbnail_uri(path: str, size: int = 96) -> str | None:
    """A small JPEG of the image as a data URI, or None if it cannot be read."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            rgb = im.convert("RGB")
            rgb.thumbnail((size, size))
            buf = io.BytesIO()
            rgb.save(buf, "JPEG", quality=80)
    except (OSError, ValueError):
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def cap_graph(
    g: nx.DiGraph, max_nodes: int, keep: set[str] | frozenset[str] = frozenset()
) -> tuple[nx.DiGraph, int]:
    """Keep the ``max_nodes`` strongest nodes (by total incident weight); the
    nodes in ``keep`` always stay. Returns (subgraph, number dropped)."""
    if g.number_of_nodes() <= max_nodes:
        return g, 0
    strength = {n: 0.0 for n in g}
    for a, b, d in g.edges(data=True):
        w = float(d.get("weight") or 0.0)
        strength[a] += w
        strength[b] += w
    ranked = sorted(g, key=lambda n: (n not in keep, -strength[n], str(n)))
    kept = set(ranked[:max_nodes])
    # what g.subgraph(kept).copy() holds, built directly (faster: the view's
    # filters run per lookup), nodes and edges in g's order
    sub = g.__class__()
    sub.graph.update(g.graph)
    sub.add_nodes_from((n, d) for n, d in g.nodes(data=True) if n in kept)
    sub.add_edges_from(
        (a, b, dict(d)) for a, b, d in g.edges(data=True) if a in kept and b in kept
    )
    return sub, g.number_of_nodes() - len(kept)


def _legend(note: str) -> str:
    kinds = "".join(
        f'<span style="display:inline-block;margin-right:12px"><span style="display:inline-block;width:12px;height:12px;border-radius:6px;background:{c}"></span> {k}</span>'
        for k, c in KIND_COLOURS.items()
    )
    dists = "".join(
        f'<span style="display:inline-block;margin-right:12px"><span style="display:inline-block;width:18px;height:4px;background:{c};vertical-align:middle"></span> {"has element" if d == 0 else f"distance {d}"}</span>'
        for d, c in DISTANCE_COLOURS.items()
    )
    extra = f'<div id="eg-note" style="color:#a33">{html.escape(note)}</div>' if note else ""
    return (
        '<div id="eg-legend" style="font:13px sans-serif;padding:6px 10px">'
        f"<div>{kinds}</div><div>{dists}</div>{extra}</div>"
    )


def _node_style(n: str, d: dict[str, Any]) -> dict[str, Any]:
    kind = d.get("kind", "concept")
    label = d.get("concept") or (n.split(":", 1)[1][:10] + "..." if kind == "image" else n)
    title = "\n".join(
        f"{k}: {v}" for k, v in d.items() if k not in ("uri",) and v not in (None, "")
    )
    style: dict[str, Any] = {
        "label": str(label),
        "title": title,
        "color": KIND_COLOURS.get(kind, "#4e79a7"),
    }
    if kind == "image":
        uri = thumbnail_uri(d["uri"]) if d.get("uri") else None
        style.update({"shape": "image", "image": uri} if uri else {"shape": "box"})
        style["size"] = 40
    elif kind == "element":
        style.update({"shape": "dot", "size": 18})
    else:
        style.update({"shape": "dot", "size": 10})
    return style


def render(
    g: nx.DiGraph,
    out: Path,
    *,
    title: str,
    max_nodes: int = DEFAULT_MAX_NODES,
    keep: set[str] | frozenset[str] = frozenset(),
) -> tuple[Path, int]:
    """Write ``g`` as a self-contained HTML page; returns (path, nodes drawn)."""
    from pyvis.network import Network

    g, dropped = cap_graph(g, max_nodes, keep)
    net = Network(height="780px", width="100%", directed=True, cdn_resources="in_line", heading="")
    for n, d in g.nodes(data=True):
        net.add_node(str(n), **_node_style(str(n), d))
    for a, b, d in g.edges(data=True):
        dist = int(d.get("distance") or 0)
        w = float(d.get("weight") or 0.0)
        prov = f"\nrun: {d['run']}" if d.get("run") else ""
        sup = f"\nsupport: {d['support']} images" if d.get("support") else ""
        net.add_edge(
            str(a),
            str(b),
            width=1 + 6 * w,
            color=DISTANCE_COLOURS.get(min(dist, MAX_EVOKES_DISTANCE), "#999"),
            title=f"{d.get('kind', '')} distance {dist}\nweight {w:.3f}{sup}{prov}",
        )
    net.set_options(
        '{"physics": {"stabilization": {"enabled": true, "iterations": 400}, '
        '"barnesHut": {"springLength": 120}}, "interaction": {"hover": true}}'
    )
    note = (
        f"Showing the {g.number_of_nodes()} strongest nodes; {dropped} weaker ones left out "
        f"(raise --max-nodes to see more)."
        if dropped
        else ""
    )
    page = offline_html(net.generate_html(), title=title, legend=_legend(note))
    out.write_text(page, encoding="utf-8")
    return out, g.number_of_nodes()


def offline_html(page: str, *, title: str, legend: str) -> str:
    """Strip external resources, add a title, legend and the after-draw hook."""
    page = _EXTERNAL.sub("", page)
    page = page.replace("<head>", f"<head>\n<title>{html.escape(title)}</title>", 1)
    page = re.sub(
        r"<body>",
        f'<body>\n<h3 style="font:16px sans-serif;margin:8px 10px">{html.escape(title)}</h3>\n{legend}',
        page,
        count=1,
    )
    return page.replace("</body>", _AFTER_DRAW + "</body>", 1)
