"""What both backends share: the write plan, portable Cypher, row decoding.

Everything here is pure (no I/O). The Cypher texts are constants built only
from the fixed schema; every value travels as a parameter. Both LadybugDB and
Neo4j 5 accept these texts unchanged (checked by the contract suite).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from evokegraph.graph import rows as R
from evokegraph.graph.pair_reads import iter_pairs
from evokegraph.graph.traversal import Edge, paths_at_depth
from evokegraph.graph.weights import aggregate_weight
from evokegraph.levels import check_depth
from evokegraph.records import (
    Caption,
    ContextPath,
    Element,
    EvocationView,
    Failure,
    GraphBatch,
    ImageEntry,
    ImageRecord,
    ImageView,
    Pair,
    PathStep,
)

STAGE_ELEMENTS = "elements"
STAGE_ASSOCIATIONS = "associations"
SHARED_PER_SOURCE = 20
AW_DIRTY = "associations_dirty"  # Meta key: ASSOCIATED_WITH needs a full recompute

STAT_NODES = (
    ("Image", "images"),
    ("Element", "elements"),
    ("Concept", "concepts"),
    ("Caption", "captions"),
    ("Failure", "failures"),
    ("Run", "runs"),
)
STAT_RELS = (("EVOKES", "evokes"), ("ASSOCIATED_WITH", "associated_with"))

Row = dict[str, Any]

# -- portable Cypher ----------------------------------------------------------
W_FAILURE_SEEN_AGAIN = (
    "UNWIND $rows AS r MATCH (f:Failure {id: r.id}) SET f.run = r.run, f.at = r.at, f.raw = r.raw"
)
# Failures a write resolves: an image that now passes a stage drops that
# stage's failures (and a decoded image its decode failures, recorded by uri).
Q_FAILURES_OF = (
    "MATCH (f:Failure) WHERE f.image_id IN $ids OR (f.stage = 'decode' AND f.uri IN $uris) "
    "RETURN f.id AS id, f.image_id AS image_id, f.uri AS uri, f.stage AS stage ORDER BY id"
)
W_DELETE_FAILURES = "UNWIND $ids AS k MATCH (f:Failure {id: k}) DELETE f"
Q_GET_META = "MATCH (m:Meta {key: $k}) RETURN m.value AS v"
W_SET_META = "MERGE (m:Meta {key: $k}) SET m.value = $v"
Q_ELEMENT_CONCEPTS = (
    "MATCH (i:Image {id: $id})-[:HAS_ELEMENT]->(e:Element) RETURN e.concept AS concept"
)
_EVOKES_OF_IMAGE = (
    "MATCH (i:Image {id: $id})-[:HAS_ELEMENT]->(e:Element) MATCH (e)-[v:EVOKES]->(c:Concept) "
)
_EVOKES_RETURN = "RETURN e.concept AS element, c.name AS concept, v.distance AS distance, v.weight AS weight, c.pos AS pos"
# One read for every depth: the image's EVOKES edges, all distances (a plain
# MATCH; LadybugDB runs the OPTIONAL MATCH form ~6x slower), plus its elements.
Q_CONTEXT_EDGES = _EVOKES_OF_IMAGE + _EVOKES_RETURN
_SHARED_RETURN = (
    "RETURN a.name AS source, b.name AS target, r.distance AS distance, r.weight AS weight, "
    "b.pos AS pos"
)
Q_SHARED = (
    "MATCH (a:Concept)-[r:ASSOCIATED_WITH]-(b:Concept) "
    "WHERE a.name IN $names AND r.distance <= $maxd " + _SHARED_RETURN
)
# One concept at a time: LadybugDB answers a primary-key lookup in ~0.1 ms but
# plans `IN $names` / `UNWIND` over a rel table as a scan (~100 ms at 1M edges).
Q_SHARED_ONE = (
    "MATCH (a:Concept {name: $name})-[r:ASSOCIATED_WITH]-(b:Concept) "
    "WHERE r.distance <= $maxd " + _SHARED_RETURN
)
Q_IMAGE_ELEMENTS = (
    "MATCH (i:Image {id: $id})-[:HAS_ELEMENT]->(e:Element) "
    "RETURN e.name AS name, e.concept AS concept, e.pos AS pos, e.saliency AS saliency, "
    "e.rank AS rank, e.box AS box, e.grounding AS grounding ORDER BY rank, concept"
)
Q_IMAGE_EVOKES = (
    _EVOKES_OF_IMAGE
    + "RETURN e.concept AS element, c.name AS concept, v.surface AS surface, c.pos AS pos, "
    "v.distance AS distance, v.rank AS rank, v.weight AS weight "
    "ORDER BY element, distance, rank, concept"
)
Q_IMAGE_CAPTIONS = (
    "MATCH (c:Caption)-[:DESCRIBES]->(i:Image {id: $id}) "
    "OPTIONAL MATCH (c)-[:USES]->(u:Concept) "
    "RETURN c.id AS id, c.text AS text, c.depth AS depth, c.realizer AS realizer, "
    "c.model AS model, c.path AS path, c.weight AS weight, c.run AS run, "
    "collect(u.name) AS uses ORDER BY depth, id"
)
Q_TOUCHED_CONCEPTS = (
    "MATCH (i:Image {id: $id})-[:HAS_ELEMENT]->(e:Element) MATCH (e)-[:IS|EVOKES]->(c:Concept) "
    "RETURN DISTINCT c.name AS name "
    "UNION "
    "MATCH (cap:Caption)-[:DESCRIBES]->(i:Image {id: $id}) MATCH (cap)-[:USES]->(c:Concept) "
    "RETURN DISTINCT c.name AS name"
)
DELETE_IMAGE = (
    "MATCH (c:Caption)-[:DESCRIBES]->(i:Image {id: $id}) DETACH DELETE c",
    "MATCH (i:Image {id: $id})-[:HAS_ELEMENT]->(e:Element) DETACH DELETE e",
    "MATCH (f:Failure) WHERE f.image_id = $id DELETE f",
    "MATCH (i:Image {id: $id}) DETACH DELETE i",
)
DELETE_ORPHAN_CONCEPTS = (
    "UNWIND $names AS k MATCH (c:Concept {name: k}) "
    "WHERE NOT EXISTS { MATCH (c)<-[:IS|EVOKES|USES]-() } DETACH DELETE c"
)
_AGG_RETURN = (
    "WHERE a.name <> b.name "
    "RETURN a.name AS source, b.name AS target, v.distance AS distance, "
    "count(DISTINCT e.image_id) AS support, avg(v.weight) AS mean_weight"
)
Q_AGGREGATE_ALL = (
    "MATCH (a:Concept)<-[:IS]-(e:Element) MATCH (e)-[v:EVOKES]->(b:Concept) " + _AGG_RETURN
)
Q_AGGREGATE_SOME = (
    "UNWIND $names AS k MATCH (a:Concept {name: k})<-[:IS]-(e:Element) "
    "MATCH (e)-[v:EVOKES]->(b:Concept) " + _AGG_RETURN
)


# -- the write plan -----------------------------------------------------------
@dataclass
class WritePlan:
    concepts: list[Row] = field(default_factory=list)
    images: list[Row] = field(default_factory=list)
    replace_elements: list[str] = field(default_factory=list)
    replace_evocations_only: list[str] = field(default_factory=list)
    elements: list[Row] = field(default_factory=list)
    has_element: list[Row] = field(default_factory=list)
    is_rows: list[Row] = field(default_factory=list)
    evokes: list[Row] = field(default_factory=list)
    captions: list[Row] = field(default_factory=list)
    uses: list[Row] = field(default_factory=list)
    failures: list[Row] = field(default_factory=list)
    drop_stages: dict[str, set[str]] = field(default_factory=dict)
    # (image id, failure stage) pairs this write completes, and decoded uris
    resolved: set[tuple[str, str]] = field(default_factory=set)
    decoded_uris: set[str] = field(default_factory=set)

    def failures_params(self) -> dict[str, Any] | None:
        """Parameters of :data:`Q_FAILURES_OF`, or None when nothing is resolved."""
        if not self.resolved and not self.decoded_uris:
            return None
        ids = sorted({i for i, _ in self.resolved})
        return {"ids": ids, "uris": sorted(self.decoded_uris)}

    def resolved_failure_ids(self, rows: Sequence[Row]) -> list[str]:
        """Of the stored failures ``rows`` (from :data:`Q_FAILURES_OF`), those this
        write resolves; the caller deletes them before writing new failures."""
        return [
            r["id"]
            for r in rows
            if (r["image_id"], r["stage"]) in self.resolved
            or (r["stage"] == "decode" and r["uri"] in self.decoded_uris)
        ]


def failure_stage(stage_key: str) -> str:
    """The Failure.stage matching an image's stage key ("captions:template" -> "caption")."""
    return "caption" if stage_key.startswith("captions:") else stage_key


def _merge_entries(entries: Sequence[ImageEntry]) -> list[ImageEntry]:
    """Several entries for one image id in one batch become one (last wins)."""
    out: dict[str, ImageEntry] = {}
    for e in entries:
        old = out.get(e.image.id)
        if old is None:
            out[e.image.id] = e
            continue
        im = e.image.model_copy(
            update={
                "uris": R.merge_uris(old.image.uris, e.image.uris),
                "captions": list(dict.fromkeys([*old.image.captions, *e.image.captions])),
            }
        )
        out[e.image.id] = ImageEntry(
            image=im,
            elements=e.elements if e.elements is not None else old.elements,
            evocations=e.evocations if e.evocations is not None else old.evocations,
            stage_keys={**old.stage_keys, **e.stage_keys},
        )
    return list(out.values())


def plan_write(batch: GraphBatch) -> WritePlan:
    """Turn a batch into the rows each table receives (pure)."""
    entries = _merge_entries(batch.images)
    plan = WritePlan(concepts=R.concept_rows(batch))
    plan.images = [R.image_row(e) for e in entries]
    for e in entries:
        plan.resolved |= {(e.image.id, failure_stage(k)) for k in e.stage_keys}
        plan.decoded_uris |= set(e.image.uris)
        if e.elements is not None:
            plan.replace_elements.append(e.image.id)
            if e.evocations is None:
                plan.drop_stages[e.image.id] = {STAGE_ASSOCIATIONS}
        elif e.evocations is not None:
            plan.replace_evocations_only.append(e.image.id)
    plan.elements = R.element_rows(entries)
    plan.has_element = [{"from": r["image_id"], "to": r["id"]} for r in plan.elements]
    plan.is_rows = [{"from": r["id"], "to": r["concept"]} for r in plan.elements]
    plan.evokes = R.evokes_rows(entries)
    seen: set[str] = set()
    for c in batch.captions:
        if c.id in seen:
            continue
        seen.add(c.id)
        plan.captions.append(R.caption_row(c))
        plan.uses += [{"from": c.id, "to": u} for u in dict.fromkeys(c.uses)]
    plan.failures = list({f.id: R.failure_row(f) for f in batch.failures}.values())
    return plan


def merge_image_row(old: Row, new: Row, plan: WritePlan) -> Row:
    """An image already stored, seen again: keep the union of what is known."""
    keys = {**json.loads(old.get("stage_keys") or "{}"), **json.loads(new["stage_keys"])}
    for stage in plan.drop_stages.get(new["id"], ()):
        if stage not in json.loads(new["stage_keys"]):
            keys.pop(stage, None)
    return {
        "id": new["id"],
        "uris": R.merge_uris(old.get("uris"), new["uris"]),
        "width": new["width"] or old.get("width") or 0,
        "height": new["height"] or old.get("height") or 0,
        "format": new["format"] or old.get("format") or "",
        "split": new["split"] or old.get("split") or "",
        "captions": list(dict.fromkeys([*(old.get("captions") or []), *new["captions"]])),
        "description": new["description"] or old.get("description") or "",
        "stage_keys": json.dumps(keys, sort_keys=True),
    }


def aggregate_rows(rows: Sequence[Row]) -> list[Row]:
    return [
        {
            "from": r["source"],
            "to": r["target"],
            "distance": int(r["distance"]),
            "weight": aggregate_weight(float(r["mean_weight"]), int(r["support"])),
            "support": int(r["support"]),
        }
        for r in rows
    ]


# -- decoding -----------------------------------------------------------------
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
    return {k: sorted(v, key=lambda e: (-e.weight, e.target))[:per_source] for k, v in out.items()}


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
    return Failure(**{k: ("" if v is None else v) for k, v in p.items()})


def jsonable(value: Any) -> Any:
    """Query results as plain JSON values (nodes/edges become dicts)."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items() if k not in ("_ID", "_SRC", "_DST")}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "items") and hasattr(value, "labels"):  # neo4j Node
        return {"_LABEL": ":".join(sorted(value.labels)), **jsonable(dict(value.items()))}
    if hasattr(value, "items") and hasattr(value, "type"):  # neo4j Relationship
        return {"_LABEL": value.type, **jsonable(dict(value.items()))}
    return value


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
