"""Pure conversion of typed records into table rows and back (no I/O).

Both backends write the same rows: LadybugDB through ``COPY FROM`` Arrow
tables, Neo4j through ``UNWIND $rows``. Keeping the conversion here means the
two can only differ in how they send rows, never in what they send. The
second half decodes what the backends read (nodes as dicts, rows of the
shared Cypher) back into records, and user query results into plain JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from evokegraph.errors import RecordError
from evokegraph.records import (
    Caption,
    Element,
    EvocationView,
    Failure,
    GraphBatch,
    ImageEntry,
    ImageRecord,
    ImageView,
    PathStep,
    RunRecord,
    element_id,
    unite,
)

Row = dict[str, Any]


def image_row(entry: ImageEntry) -> Row:
    im = entry.image
    return {
        "id": im.id,
        "uris": unite(im.uris),
        "width": im.width,
        "height": im.height,
        "format": im.format,
        "split": im.split,
        "captions": list(im.captions),
        "description": im.description,
        "stage_keys": json.dumps(entry.stage_keys, sort_keys=True),
    }


def element_row(image_id: str, el: Element) -> Row:
    return {
        "id": element_id(image_id, el.concept),
        "image_id": image_id,
        "name": el.name,
        "concept": el.concept,
        "pos": el.pos,
        "saliency": float(el.saliency),
        "rank": el.rank,
        "box": [float(x) for x in el.box] if el.box is not None else None,
        "grounding": el.grounding,
    }


def element_rows(entries: Iterable[ImageEntry]) -> list[Row]:
    rows: dict[str, Row] = {}
    for e in entries:
        for el in e.elements or ():
            r = element_row(e.image.id, el)
            rows.setdefault(r["id"], r)  # first (highest-ranked) mention wins
    return list(rows.values())


def evokes_rows(entries: Iterable[ImageEntry]) -> list[Row]:
    """One EVOKES row per (element, concept, distance); the best rank wins."""
    rows: dict[tuple[str, str, int], Row] = {}
    for e in entries:
        ids: dict[str, str] = {}
        for ev in e.evocations or ():
            if ev.concept == ev.element:
                continue  # an element never evokes itself
            if ev.weight is None:
                raise RecordError(
                    f"evocation {ev.element!r} -> {ev.concept!r} of image {e.image.id} has no "
                    "weight; pass the records through evokegraph.weights.finalize before writing"
                )
            el_id = ids.get(ev.element)
            if el_id is None:
                el_id = ids[ev.element] = element_id(e.image.id, ev.element)
            key = (el_id, ev.concept, ev.distance)
            old = rows.get(key)
            if old is not None and (old["rank"], -old["weight"]) <= (ev.rank, -ev.weight):
                continue
            rows[key] = {
                "from": el_id,
                "to": ev.concept,
                "distance": ev.distance,
                "weight": float(ev.weight),
                "rank": ev.rank,
                "surface": ev.surface or ev.concept,
                "grounding": ev.grounding,
                "run": ev.run,
            }
    return list(rows.values())


def concept_rows(batch: GraphBatch) -> list[Row]:
    """Every concept the batch refers to, with the part of speech first seen."""
    pos: dict[str, str] = {}
    for e in batch.images:
        for el in e.elements or ():
            pos.setdefault(el.concept, el.pos)
        for ev in e.evocations or ():
            pos.setdefault(ev.element, "NOUN")
            pos.setdefault(ev.concept, ev.pos)
    for c in batch.captions:
        for u in c.uses:
            pos.setdefault(u, "NOUN")
        for s in c.path:
            pos.setdefault(s.source, "NOUN")
            pos.setdefault(s.target, "NOUN")
    for k in batch.concepts:
        pos.setdefault(k, "NOUN")
    return [{"name": k, "pos": p, "concreteness": batch.concepts.get(k)} for k, p in pos.items()]


def caption_row(c: Caption) -> Row:
    return {
        "id": c.id,
        "image_id": c.image_id,
        "text": c.text,
        "depth": c.depth,
        "realizer": c.realizer,
        "model": c.model,
        "path": json.dumps([s.model_dump() for s in c.path]),
        "weight": float(c.weight),
        "run": c.run,
    }


def failure_row(f: Failure) -> Row:
    return {
        "id": f.id,
        "image_id": f.image_id,
        "uri": f.uri,
        "stage": f.stage,
        "reason": f.reason,
        "raw": f.raw[:20000],
        "run": f.run,
        "at": f.at.isoformat(),
    }


def run_row(r: RunRecord) -> Row:
    return {
        "id": r.id,
        "command": r.command,
        "config": json.dumps(r.config, sort_keys=True, default=str),
        "versions": json.dumps(r.versions, sort_keys=True),
        "started": r.started.isoformat(),
        "finished": r.finished.isoformat() if r.finished else "",
        "counts": json.dumps(r.counts, sort_keys=True),
        "timings": json.dumps(r.timings, sort_keys=True),
        "status": r.status,
    }


def run_from_row(row: Row) -> RunRecord:
    from datetime import datetime

    return RunRecord(
        id=row["id"],
        command=row["command"],
        config=json.loads(row["config"] or "{}"),
        versions=json.loads(row["versions"] or "{}"),
        started=datetime.fromisoformat(row["started"]),
        finished=datetime.fromisoformat(row["finished"]) if row["finished"] else None,
        counts=json.loads(row["counts"] or "{}"),
        timings=json.loads(row["timings"] or "{}"),
        status=row["status"],
    )


# -- rows -> records -------------------------------------------------------------
def _props(node: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in node.items() if not k.startswith("_")}


def image_record(node: dict[str, Any]) -> tuple[ImageRecord, dict[str, str]]:
    p = _props(node)
    keys = json.loads(p.pop("stage_keys", None) or "{}")
    p = {k: v for k, v in p.items() if k in ImageRecord.model_fields and v is not None}
    return ImageRecord(**p), keys


def image_view(
    node: dict[str, Any], elements: list[Row], evokes: list[Row], captions: list[Row]
) -> ImageView:
    image, keys = image_record(node)
    return ImageView(
        image=image,
        elements=[Element(**{k: v for k, v in e.items() if v is not None}) for e in elements],
        evocations=[EvocationView(**e) for e in evokes],
        captions=[caption_from_row(image.id, c) for c in captions],
        stage_keys=keys,
    )


def caption_from_row(image_id: str, r: Row) -> Caption:
    path = [PathStep(**s) for s in json.loads(r["path"] or "[]")]
    order = {s.target: i for i, s in enumerate(path)}  # `collect` has no order: the path's
    return Caption(
        id=r["id"],
        image_id=image_id,
        text=r["text"],
        depth=r["depth"],
        realizer=r["realizer"],
        model=r["model"] or "",
        path=path,
        uses=sorted(
            (u for u in (r.get("uses") or []) if u), key=lambda u: (order.get(u, len(order)), u)
        ),
        weight=r["weight"],
        run=r["run"] or "",
    )


def failure_from_row(node: dict[str, Any]) -> Failure:
    p = _props(node)
    p["at"] = datetime.fromisoformat(p["at"])
    return Failure.model_validate({k: ("" if v is None else v) for k, v in p.items()})


_PLAIN = frozenset({str, int, float, bool, type(None)})
_HIDDEN = frozenset({"_ID", "_SRC", "_DST"})  # the engine's internal ids: never shown


def jsonable_rows(cols: list[str], rows: Iterable[list[Any]]) -> list[dict[str, Any]]:
    """``[jsonable(dict(zip(cols, row))) for row in rows]`` in one pass (H24f:
    the explorer built every row's dict twice, ~9% of its page threads' GIL time
    went to turning rows into values)."""
    keep = [i for i, c in enumerate(cols) if c not in _HIDDEN]
    plain = _PLAIN
    if len(keep) == len(cols):
        return [
            {c: v if type(v) in plain else jsonable(v) for c, v in zip(cols, row, strict=True)}
            for row in rows
        ]
    names = [cols[i] for i in keep]
    out = []
    for row in rows:
        if len(row) != len(cols):
            raise ValueError(f"a row of {len(row)} values for {len(cols)} columns")
        out.append({c: jsonable(row[i]) for c, i in zip(names, keep, strict=True)})
    return out


def jsonable(value: Any) -> Any:
    """Query results as plain JSON values (nodes/edges become dicts)."""
    if type(value) in _PLAIN:  # most values: returned as they are, before the checks below
        return value
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items() if k not in _HIDDEN}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "items") and hasattr(value, "labels"):  # neo4j Node
        return {"_LABEL": ":".join(sorted(value.labels)), **jsonable(dict(value.items()))}
    if hasattr(value, "items") and hasattr(value, "type"):  # neo4j Relationship
        return {"_LABEL": value.type, **jsonable(dict(value.items()))}
    return value
