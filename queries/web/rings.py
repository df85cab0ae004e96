"""The "rings" view of an image: a fan-out by distance.

The image sits at the centre; its elements sit on the innermost ring, each
owning a sector of the circle; what an element evokes at distance d sits on
ring d inside that element's sector, so reading outward along a sector is
reading one element's ladder from near synonym to full abstraction, and
reading around a ring compares the elements at one level of abstraction.

The layout is pure arithmetic on the image's :class:`ImageView` (no store
read beyond the one the image page already makes) and comes out as plain
numbers: the template draws it as inline SVG whose every label is a link.
Positions depend only on the sorted data: the same image always draws the
same picture.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any
from urllib.parse import quote

from evokegraph.levels import DISTANCE_NAMES, DISTANCES
from evokegraph.queries.viz import DISTANCE_COLOURS, KIND_COLOURS
from evokegraph.records import ImageView

SIZE = 1200  # the SVG's view box is SIZE x SIZE, centred on the image
CENTRE_R = 58  # the image thumbnail's radius
ELEMENT_R = 120
RING_STEP = 64  # ring d's radius: ELEMENT_R + d * RING_STEP
LABEL_GAP = 9  # from a dot to its label
LABEL_CHARS = 18  # longer labels are cut (the full word is in the tooltip)
PER_CELL = 3  # associations drawn per element and distance (the heaviest)


def ring_radius(distance: int) -> float:
    return ELEMENT_R + distance * RING_STEP


def _label(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "\u2026"


def _point(radius: float, angle: float) -> dict[str, Any]:
    """The dot at polar (radius, angle in radians clockwise from 12 o'clock),
    where its label starts, and the label's rotation: along the radius,
    outward, never upside down (left half: rotated half a turn, right-aligned)."""
    sin, cos = math.sin(angle), math.cos(angle)
    left = math.degrees(angle) % 360.0 > 180.0
    deg = math.degrees(angle) - 90.0
    return {
        "x": round(radius * sin, 1),
        "y": round(-radius * cos, 1),
        "lx": round((radius + LABEL_GAP) * sin, 1),
        "ly": round(-(radius + LABEL_GAP) * cos, 1),
        "rotate": round(deg + 180.0 if left else deg, 1),
        "anchor": "end" if left else "start",
    }


def _node(kind: str, name: str, radius: float, angle: float, **extra: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "name": name,
        "label": _label(name),
        "href": "/concept/" + quote(name, safe=""),
        **_point(radius, angle),
        **extra,
    }


def _cells(view: ImageView) -> dict[str, dict[int, list[tuple[str, float]]]]:
    """element -> distance -> the heaviest (concept, weight) pairs, in a stable order."""
    cells: dict[str, dict[int, list[tuple[str, float]]]] = defaultdict(lambda: defaultdict(list))
    for v in sorted(view.evocations, key=lambda v: (v.element, v.distance, -v.weight, v.concept)):
        cell = cells[v.element][v.distance]
        if len(cell) < PER_CELL:
            cell.append((v.concept, round(v.weight, 3)))
    return cells


def rings(view: ImageView) -> dict[str, Any]:
    """Layout of the rings view: the centre, the rings, element and association
    nodes (x, y, label rotation, link) and the spokes between them."""
    elements = [e.concept for e in sorted(view.elements, key=lambda e: (e.rank, e.concept))]
    cells = _cells(view)
    sector = 2 * math.pi / max(1, len(elements))
    nodes: list[dict[str, Any]] = []
    spokes: list[dict[str, Any]] = []
    for i, element in enumerate(elements):
        mid = (i + 0.5) * sector
        el = _node("element", element, ELEMENT_R, mid, colour=KIND_COLOURS["element"])
        nodes.append(el)
        for d in DISTANCES:
            cell = cells[element][d]
            for j, (concept, weight) in enumerate(cell):
                # spread a cell across 80% of the sector; alternate rings shift
                # half a slot, so a label never runs into the next ring's dot
                slot = sector * 0.8 / max(1, len(cell))
                shift = (0.25 if d % 2 else -0.25) * slot if len(cell) > 1 else 0.0
                angle = i * sector + sector * 0.1 + (j + 0.5) * slot + shift
                n = _node(
                    "association",
                    concept,
                    ring_radius(d),
                    angle,
                    distance=d,
                    weight=weight,
                    colour=DISTANCE_COLOURS[d],
                    element=element,
                )
                nodes.append(n)
                spokes.append(
                    {
                        "x1": el["x"],
                        "y1": el["y"],
                        "x2": n["x"],
                        "y2": n["y"],
                        "colour": DISTANCE_COLOURS[d],
                        "width": round(0.8 + 2.5 * weight, 2),
                        "distance": d,
                    }
                )
    return {
        "image": {"id": view.image.id, "r": CENTRE_R},
        "size": SIZE,
        "rings": [
            {
                "distance": d,
                "name": DISTANCE_NAMES[d],
                "r": ring_radius(d),
                "colour": DISTANCE_COLOURS[d],
            }
            for d in DISTANCES
        ],
        "element_r": ELEMENT_R,
        "nodes": nodes,
        "spokes": spokes,
        "elements": len(elements),
        "associations": sum(1 for n in nodes if n["kind"] == "association"),
    }


def colour_key() -> dict[str, list[dict[str, Any]]]:
    """The colours the image page's graph and the rings view use, for their keys."""
    return {
        "kinds": [{"kind": k, "colour": c} for k, c in KIND_COLOURS.items()],
        "rings": [
            {"distance": d, "name": DISTANCE_NAMES[d], "colour": DISTANCE_COLOURS[d]}
            for d in DISTANCES
        ],
    }
