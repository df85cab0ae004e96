"""Read-side helpers shared by commands: resolving image references, tables."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from evokegraph.errors import UserInputError
from evokegraph.graph.store import GraphStore
from evokegraph.levels import DISTANCE_NAMES
from evokegraph.records import ImageView, unite

Q_IMAGE_PREFIX = "MATCH (i:Image) WHERE i.id STARTS WITH $p RETURN i.id AS id ORDER BY id LIMIT 2"
Q_IMAGE_EXISTS = "MATCH (i:Image {id: $id}) RETURN i.id AS id"
Q_IMAGE_URI = "MATCH (i:Image) WHERE $uri IN i.uris RETURN i.id AS id ORDER BY id LIMIT 2"
Q_CAPTION_EXPLAIN = (
    "MATCH (c:Caption {id: $id})-[:DESCRIBES]->(i:Image) "
    "RETURN c.text AS text, c.depth AS depth, c.realizer AS realizer, c.model AS model, "
    "c.path AS path, c.weight AS weight, i.id AS image, i.uris AS uris"
)
Q_CAPTION_PREFIX = (
    "MATCH (c:Caption) WHERE c.id STARTS WITH $p RETURN c.id AS id ORDER BY id LIMIT 2"
)
MIN_PREFIX = 6
LIST_IMAGES = '`evokegraph cypher "MATCH (i:Image) RETURN i.id, i.uris LIMIT 10"`'


def _hex_prefix(ref: str, what: str) -> str:
    prefix = ref.strip().lower()
    if len(prefix) < MIN_PREFIX or any(c not in "0123456789abcdef" for c in prefix):
        raise UserInputError(
            f"{ref!r} is not {what} (give a full id or a unique prefix of {MIN_PREFIX}+ hex digits)"
        )
    return prefix


def _is_full_id(ref: str) -> bool:
    return len(ref) == 64 and all(c in "0123456789abcdef" for c in ref)


def _unique(ids: list[str], ref: str, kind: str) -> str:
    if len(ids) > 1:
        raise UserInputError(f"{kind} id prefix {ref!r} is ambiguous; give more digits")
    return ids[0]


def _is_image(path: Path) -> bool:
    """Whether Pillow recognises the file as a picture (reads the header only)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path):
            return True
    except (UnidentifiedImageError, OSError, ValueError):
        return False


def _not_an_image(path: Path, ref: str) -> str:
    """Why a file that is no picture names no image, and the picture it may belong to."""
    kind = f"a {path.suffix} file" if path.suffix else "a file"
    beside = sorted(p for p in path.parent.glob(f"{path.stem}.*") if p != path and _is_image(p))
    hint = (
        f"; it may be the captions of {beside[0]}: `evokegraph show {beside[0]}`"
        if beside
        else "; give an image file, a stored path or an image id"
    )
    return f"{ref} is {kind}, not an image{hint}"


def resolve_image(kb: GraphStore, ref: str) -> str:
    """The stored image a reference names: a full id, a unique id prefix (6+ hex
    digits), an image file (by content) or a path/URI the image was ingested from.

    Every command that takes an image uses this; a reference that names no
    stored image is a :class:`UserInputError` saying why.
    """
    if "\x00" in ref:  # no path or id holds one; the OS refuses it in a path
        raise UserInputError(f"{ref!r} is not an image id, file or stored path (a NUL byte)")
    try:
        path = Path(ref).expanduser()
    except RuntimeError:  # "~someone" with no such user: a plain name, then
        path = Path(ref)
    if _is_full_id(ref) and not path.is_file() and kb.query(Q_IMAGE_EXISTS, {"id": ref}):
        return ref  # a primary-key look-up; the uri and prefix reads below scan
    if path.is_file():
        image_id = hashlib.sha256(path.read_bytes()).hexdigest()
        if kb.query(Q_IMAGE_EXISTS, {"id": image_id}):
            return image_id
        if not _is_image(path):
            raise UserInputError(_not_an_image(path, ref))
        raise UserInputError(
            f"{ref} is not in the knowledge base (no image with its content, id "
            f"{image_id[:12]}...); ingest it with `evokegraph ingest {ref}`"
        )
    for uri in unite([ref, str(path.absolute()), str(path.resolve())]):
        ids = [r["id"] for r in kb.query(Q_IMAGE_URI, {"uri": uri})]
        if ids:
            return _unique(ids, ref, "image")
    prefix = _hex_prefix(ref, "an image file, a stored path or an image id")
    ids = [r["id"] for r in kb.query(Q_IMAGE_PREFIX, {"p": prefix})]
    if not ids:
        raise UserInputError(f"no image with id {prefix}...; list some with {LIST_IMAGES}")
    return _unique(ids, ref, "image")


def resolve_caption(kb: GraphStore, ref: str) -> str:
    """A stored caption id from a full id or a unique prefix (6+ hex digits)."""
    prefix = _hex_prefix(ref, "a caption id")
    ids = [r["id"] for r in kb.query(Q_CAPTION_PREFIX, {"p": prefix})]
    if not ids:
        raise UserInputError(
            f"no caption with id {prefix}...; list an image's captions with `evokegraph show IMAGE`"
        )
    return _unique(ids, ref, "caption")


def caption_explanation(kb: GraphStore, caption_id: str) -> dict[str, Any]:
    """A stored caption with its image and its graph path (``path``: the steps as dicts)."""
    rows = kb.query(Q_CAPTION_EXPLAIN, {"id": caption_id})
    if not rows:
        raise UserInputError(
            f"no caption with id {caption_id!r}; list an image's captions with `evokegraph show IMAGE`"
        )
    return {**rows[0], "path": json.loads(rows[0]["path"] or "[]")}


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
    out: list[tuple[str, list[dict[str, Any]]]] = [
        ("image", info),
        ("salient elements", elements),
        ("associations by distance", assoc),
    ]
    if captions:
        out.append(("captions by depth", captions))
    return out
