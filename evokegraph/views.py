"""Read-side helpers shared by commands: resolving image references, tables."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path
from typing import Any

from evokegraph.errors import UserInputError
from evokegraph.graph.store import GraphStore
from evokegraph.records import DISTANCE_NAMES, ImageView

Q_IMAGE_PREFIX = "MATCH (i:Image) WHERE i.id STARTS WITH $p RETURN i.id AS id ORDER BY id LIMIT 2"


def resolve_image(kb: GraphStore, ref: str) -> str:
    """An image id from a full id, a unique prefix (>= 6 hex digits) or a file path."""
    path = Path(ref)
    if path.is_file():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    prefix = ref.strip().lower()
    if len(prefix) < 6 or any(c not in "0123456789abcdef" for c in prefix):
        raise UserInputError(f"{ref!r} is neither an image file nor an image id (6+ hex digits)")
    ids = [r["id"] for r in kb.query(Q_IMAGE_PREFIX, {"p": prefix})]
    if not ids:
        raise UserInputError(
            f'no image with id {prefix}...; list some with `evokegraph cypher "MATCH (i:Image) RETURN i.id, i.uris LIMIT 10"`'
        )
    if len(ids) > 1:
        raise UserInputError(f"image id prefix {prefix!r} is ambiguous; give more digits")
    return ids[0]


def image_tables(view: ImageView) -> list[tuple[str, list[dict[str, Any]]]]:
    im = view.image
    info = [
        {"field": "id", "value": im.id},
        {"field": "uris", "value": ", ".join(im.uris)},
        {"field": "size", "value": f"{im.width}x{im.height} {im.format}"},
        {"field": "captions", "value": " | ".join(im.captions)},
    ]
    elements = [
        {"rank": e.rank, "element": e.concept, "pos": e.pos, "saliency": e.saliency}
        for e in view.elements
    ]
    by: dict[str, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    for v in view.evocations:
        by[v.element][v.distance].append(v.concept)
    assoc = [
        {
            "element": e.concept,
            **{f"{d} {DISTANCE_NAMES[d]}": ", ".join(by[e.concept][d]) for d in DISTANCE_NAMES},
        }
        for e in view.elements
    ]
    captions = [
        {"depth": c.depth, "caption": c.text, "realizer": c.realizer, "id": c.id}
        for c in view.captions
    ]
    out = [("image", info), ("salient elements", elements), ("associations by distance", assoc)]
    if captions:
        out.append(("captions by depth", captions))
    return out
