"""What each page of ``evokegraph serve`` shows, as plain JSON-able dicts.

Every function reads the store with fixed Cypher (values are parameters only)
and returns the data of one page; the HTML templates and the JSON endpoints
render the same dicts, so notebooks see exactly what the browser sees. Every
ordering that reaches the page is explicit.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import pyarrow as pa

from evokegraph.errors import QueryTimeoutError, ReadOnlyQueryError, UserInputError
from evokegraph.graph import dialect, kb_cache
from evokegraph.graph.store import GraphStore
from evokegraph.levels import DISTANCE_NAMES, DISTANCES
from evokegraph.queries.library import catalogue, get, run
from evokegraph.queries.web import pool_index
from evokegraph.queries.web.search import WordQuery
from evokegraph.records import ImageView
from evokegraph.views import resolve_image

MAX_PER_PAGE = 200
PER_DISTANCE = 24  # images listed per distance on a concept page
NEIGHBOURS = 30  # ASSOCIATED_WITH neighbours listed each way
CREATIVE_MIN_DISTANCE = 4
CREATIVE_POOL = 200  # images considered for creative pairs
CREATIVE_PAIRS = 20
FIRST_POOL = CREATIVE_PAIRS + 4  # images whose elements creative_pairs reads first
CYPHER_ROWS = 500  # rows shown from the Cypher box

# Filters of the image grid: fixed fragments, values only as parameters.
_F_CONCEPT = (
    "EXISTS { MATCH (i)-[:HAS_ELEMENT]->(:Element)-[:IS|EVOKES]->(:Concept {name: $concept}) }"
)
_F_CONCEPT_AT = (
    "EXISTS { MATCH (i)-[:HAS_ELEMENT]->(:Element)-[v:EVOKES]->(:Concept {name: $concept}) "
    "WHERE v.distance = $distance }"
)
_F_ELEMENT = "EXISTS { MATCH (i)-[:HAS_ELEMENT]->(:Element)-[:IS]->(:Concept {name: $concept}) }"
# The same filters started from the concept (its own edges, not every image's):
# the images of one filter, as ids (sorted and paged in Python).
_FROM_CONCEPT = "MATCH (:Concept {name: $concept})<-"
_IMAGE_IDS = "-(:Element)<-[:HAS_ELEMENT]-(i:Image) RETURN DISTINCT i.id AS id"
Q_IDS_CONCEPT = _FROM_CONCEPT + "[:IS|EVOKES]" + _IMAGE_IDS
Q_IDS_ELEMENT = _FROM_CONCEPT + "[:IS]" + _IMAGE_IDS
Q_IDS_CONCEPT_AT = (
    _FROM_CONCEPT + "[v:EVOKES]-(:Element)<-[:HAS_ELEMENT]-(i:Image) "
    "WHERE v.distance = $distance RETURN DISTINCT i.id AS id"
)
# Word search (queries/web/search.py): substring candidates from the store, in
# Cypher both backends accept (a parameter inside a list predicate is bound by
# UNWIND first: LadybugDB rejects `$p` and nested lambdas there), then whole
# words by lemma in Python.
Q_TEXT_IMAGES = (
    "UNWIND $keys AS k MATCH (i:Image) "
    "WHERE any(c IN i.captions WHERE lower(c) CONTAINS k) OR lower(coalesce(i.description, '')) CONTAINS k "
    "RETURN DISTINCT i.id AS id"
)
Q_TEXT_CAPTIONS = (
    "UNWIND $keys AS k MATCH (cap:Caption) WHERE lower(cap.text) CONTAINS k "
    "RETURN DISTINCT cap.image_id AS id"
)
# One primary-key look-up per id (LadybugDB 0.22 scans the table for `WHERE i.id IN $ids`)
Q_CARDS = (
    "UNWIND $ids AS k MATCH (i:Image {id: k}) "
    "RETURN i.id AS id, i.uris AS uris, i.captions AS captions ORDER BY id"
)
Q_FAILURES = (
    "MATCH (f:Failure) WHERE f.image_id = $id "
    "RETURN f.stage AS stage, f.reason AS reason, f.raw AS raw, f.run AS run ORDER BY stage, reason"
)
Q_FAILED = "MATCH (f:Failure) RETURN DISTINCT f.image_id AS id"
Q_CONCEPT = "MATCH (c:Concept {name: $n}) RETURN c.name AS name, c.pos AS pos, c.concreteness AS concreteness"
Q_EVOKED_BY = (
    "MATCH (i:Image)-[:HAS_ELEMENT]->(e:Element)-[v:EVOKES]->(:Concept {name: $n}) "
    "RETURN v.distance AS distance, i.id AS image, i.uris AS uris, e.concept AS element, "
    "v.weight AS weight ORDER BY distance, weight DESC, image, element LIMIT $limit"
)
# LadybugDB: the same rows with each image's node offset, for the pool index (H24)
Q_EVOKED_BY_NODES = Q_EVOKED_BY.replace("i.id AS image,", "i.id AS image, offset(ID(i)) AS node,")
Q_EVOKED_BY_AT = (
    "MATCH (i:Image)-[:HAS_ELEMENT]->(e:Element)-[v:EVOKES]->(:Concept {name: $n}) "
    "WHERE v.distance = $d RETURN v.distance AS distance, i.id AS image, i.uris AS uris, "
    "e.concept AS element, v.weight AS weight ORDER BY weight DESC, image, element LIMIT $limit"
)
Q_EVOKED_COUNTS = (
    "MATCH (:Element)-[v:EVOKES]->(:Concept {name: $n}) "
    "RETURN v.distance AS distance, count(*) AS n ORDER BY distance"
)
Q_AS_ELEMENT = (
    "MATCH (i:Image)-[:HAS_ELEMENT]->(:Element)-[:IS]->(:Concept {name: $n}) "
    "RETURN i.id AS image, i.uris AS uris ORDER BY image LIMIT $limit"
)
Q_OUT = (
    "MATCH (:Concept {name: $n})-[r:ASSOCIATED_WITH]->(b:Concept) RETURN b.name AS concept, "
    "r.distance AS distance, r.weight AS weight, r.support AS support "
    "ORDER BY weight DESC, distance, concept LIMIT $limit"
)
Q_IN = (
    "MATCH (b:Concept)-[r:ASSOCIATED_WITH]->(:Concept {name: $n}) RETURN b.name AS concept, "
    "r.distance AS distance, r.weight AS weight, r.support AS support "
    "ORDER BY weight DESC, distance, concept LIMIT $limit"
)
Q_ABSTRACT_POOL = (
    "MATCH (i:Image)-[:HAS_ELEMENT]->(:Element)-[v:EVOKES]->(:Concept {name: $n}) "
    "WHERE v.distance >= $d WITH DISTINCT i ORDER BY i.id LIMIT $limit "
    "MATCH (i)-[:HAS_ELEMENT]->(e:Element) "
    "RETURN i.id AS image, i.uris AS uris, collect(e.concept) AS elements ORDER BY image"
)


class PageNotFound(UserInputError):
    """A page for an image or concept that is not in the knowledge base."""


@dataclass(frozen=True)
class GridFilter:
    """What the image grid shows: a concept (optionally at one distance; 0 =
    as a literal element), a text search over captions, and a page."""

    concept: str = ""
    distance: int | None = None
    q: str = ""
    page: int = 1
    per_page: int = 48

    def checked(self) -> GridFilter:
        if self.page < 1 or not 1 <= self.per_page <= MAX_PER_PAGE:
            raise UserInputError(f"page must be >= 1 and per_page 1..{MAX_PER_PAGE}")
        if self.distance is not None and self.distance not in (0, *DISTANCES):
            raise UserInputError(
                f"distance {self.distance} is not 0 (element) or 1..{DISTANCES[-1]}; pick one of those"
            )
        return self


def _name(uris: list[str] | None) -> str:
    """``Path(uris[0]).name``; the plain tail after the last '/' without a Path
    (H24: a concept page names ~175 cards: 1 ms of Path objects a page)."""
    if not uris:
        return ""
    tail = uris[0].rpartition("/")[2]
    return tail if tail and tail != "." else Path(uris[0]).name


def _card(image_id: str, uris: list[str] | None, **extra: Any) -> dict[str, Any]:
    return {"id": image_id, "name": _name(uris), "uris": list(uris or []), **extra}


def _word_matches(kb: GraphStore, cond: str, params: dict[str, Any], wq: WordQuery) -> list[str]:
    """Sorted ids of the images (that pass ``cond``) whose texts hold every word."""
    keys = {"keys": wq.substrings()}
    ids = {r["id"] for r in kb.query(Q_TEXT_IMAGES, keys)}
    ids |= {r["id"] for r in kb.query(Q_TEXT_CAPTIONS, keys)}
    if not ids:
        return []
    extra = f"AND {cond[len('WHERE ') :]}" if cond else ""
    rows = kb.query(
        f"MATCH (i:Image) WHERE i.id IN $ids {extra}"
        "OPTIONAL MATCH (i)<-[:DESCRIBES]-(cap:Caption) "
        "RETURN i.id AS id, i.captions AS captions, i.description AS description, "
        "collect(cap.text) AS generated",
        {**params, "ids": sorted(ids)},
    )
    hits = (
        r["id"]
        for r in rows
        if wq.matches([*(r["captions"] or []), r["description"] or "", *r["generated"]])
    )
    return sorted(hits)


def _image_ids_in_order(kb: GraphStore) -> pa.Array:
    """Every image id, sorted (what the unfiltered grid pages through): kept per
    write version of the KB, so a page costs its 48 look-ups, not a sort of every id."""
    return pa.array(kb.image_ids(), pa.string())


def images(kb: GraphStore, f: GridFilter) -> dict[str, Any]:
    """One page of the image grid, with the total count for paging."""
    f = f.checked()
    where: list[str] = []
    params: dict[str, Any] = {}
    concept = " ".join(f.concept.split()).casefold()
    if concept:
        params["concept"] = concept
        if f.distance == 0:
            where.append(_F_ELEMENT)
        elif f.distance is not None:
            where.append(_F_CONCEPT_AT)
            params["distance"] = f.distance
        else:
            where.append(_F_CONCEPT)
    cond = f"WHERE {' AND '.join(where)} " if where else ""
    skip = (f.page - 1) * f.per_page
    wq = WordQuery.parse(f.q)
    if wq:
        matched = _word_matches(kb, cond, params, wq)
        total = len(matched)
        rows = kb.query(Q_CARDS, {"ids": matched[skip : skip + f.per_page]})
    elif not cond:
        ids = kb_cache.cached(kb, "image ids in order", lambda: _image_ids_in_order(kb))
        total = len(ids)
        rows = kb.query(Q_CARDS, {"ids": ids[skip : skip + f.per_page].to_pylist()})
    elif concept:
        q = Q_IDS_ELEMENT if f.distance == 0 else Q_IDS_CONCEPT_AT if f.distance else Q_IDS_CONCEPT
        found = sorted(r["id"] for r in kb.query(q, params))
        total = len(found)
        rows = kb.query(Q_CARDS, {"ids": found[skip : skip + f.per_page]})
    else:
        total = kb.query(f"MATCH (i:Image) {cond}RETURN count(i) AS n", params)[0]["n"]
        # H24: past the last page there is nothing to read (and LadybugDB 0.22.0
        # segfaults on an ORDER BY ... SKIP far beyond the rows: ?page=100000)
        rows = (
            []
            if skip >= total
            else kb.query(
                f"MATCH (i:Image) {cond}RETURN i.id AS id, i.uris AS uris, "
                "i.captions AS captions ORDER BY id SKIP $skip LIMIT $limit",
                {**params, "skip": skip, "limit": f.per_page},
            )
        )
    items = [_card(r["id"], r["uris"], caption=(r["captions"] or [""])[0]) for r in rows]
    return {
        "filter": {"concept": concept, "distance": f.distance, "q": wq.text},
        "page": f.page,
        "per_page": f.per_page,
        "total": int(total),
        "pages": max(1, -(-int(total) // f.per_page)),
        "items": items,
    }


def _ladder(view: ImageView) -> list[dict[str, Any]]:
    by: dict[str, dict[int, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for v in sorted(view.evocations, key=lambda v: (v.element, v.distance, v.rank, v.concept)):
        by[v.element][v.distance].append({"concept": v.concept, "weight": round(v.weight, 3)})
    return [
        {
            "element": e.concept,
            "name": e.name,
            "pos": e.pos,
            "saliency": e.saliency,
            "rank": e.rank,
            "distances": {str(d): by[e.concept][d] for d in DISTANCES},
        }
        for e in sorted(view.elements, key=lambda e: (e.rank, e.concept))
    ]


def _captions(view: ImageView) -> list[dict[str, Any]]:
    groups: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for c in sorted(view.captions, key=lambda c: (c.depth, -c.weight, c.text, c.id)):
        groups[c.depth].append(
            {
                "id": c.id,
                "text": c.text,
                "realizer": c.realizer,
                "model": c.model,
                "weight": round(c.weight, 4),
                "path": [s.model_dump() for s in c.path],
                "nodes": path_nodes(c.path),
            }
        )
    return [{"depth": d, "captions": groups[d]} for d in sorted(groups)]


def path_nodes(path: list[Any]) -> list[str]:
    """Graph node ids (as in :func:`graph_of_image`) along a caption's path."""
    if not path:
        return []
    first = path[0].source if hasattr(path[0], "source") else path[0]["source"]
    rest = [s.target if hasattr(s, "target") else s["target"] for s in path]
    return [f"element:{first}", *rest]


def image_id_of(kb: GraphStore, ref: str) -> str:
    """A full id as is (no scan); a prefix or file resolved as in the CLI."""
    if len(ref) == 64 and all(c in "0123456789abcdef" for c in ref):
        return ref
    return resolve_image(kb, ref)


def image_view(kb: GraphStore, ref: str) -> ImageView:
    view = kb.get_image(image_id_of(kb, ref))
    if view is None:
        raise PageNotFound(f"no image {ref!r}")
    return view


def image(kb: GraphStore, ref: str | ImageView) -> dict[str, Any]:
    """The image page: record, elements, ladder, captions by depth, failures."""
    view = ref if isinstance(ref, ImageView) else image_view(kb, ref)
    im = view.image
    image_id = im.id
    return {
        "image": {**im.model_dump(), "name": _name(im.uris)},
        "distance_names": {str(d): n for d, n in DISTANCE_NAMES.items()},
        "ladder": _ladder(view),
        "captions": _captions(view),
        "failures": _failures(kb, image_id),
        "stage_keys": view.stage_keys,
    }


def _failures(kb: GraphStore, image_id: str) -> list[dict[str, Any]]:
    """The image's recorded failures. Q_FAILURES scans every Failure (0.3-0.9 ms
    an image page, even with none stored): on a store with a write version the
    ids of the images with failures are read once per version (H24) and the
    scan runs only for those."""
    if callable(getattr(kb, "write_version", None)):
        failed = kb_cache.cached(
            kb, "images with failures", lambda: frozenset(r["id"] for r in kb.query(Q_FAILED))
        )
        if image_id not in failed:
            return []
    return kb.query(Q_FAILURES, {"id": image_id})


def concept(kb: GraphStore, name: str) -> dict[str, Any]:
    """The concept page: images evoking it by distance, neighbours, creative pairs."""
    key = " ".join(name.split()).casefold()
    found = kb.query(Q_CONCEPT, {"n": key})
    if not found:
        raise PageNotFound(f"no concept {name!r} in the knowledge base; search the image grid")
    limit = PER_DISTANCE * len(DISTANCES) * 4
    indexed = pool_index.usable(kb)  # H24: creative pairs from these rows and the index
    version = pool_index.write_version(kb) if indexed else None
    rows = kb.query(Q_EVOKED_BY_NODES if indexed else Q_EVOKED_BY, {"n": key, "limit": limit})
    # H24: under the LIMIT, the rows are every EVOKES edge into the concept with its
    # image (an element belongs to one image): the counts come from them, not
    # from one more query over the same edges
    whole = len(rows) < limit
    counts = (
        dict(Counter(r["distance"] for r in rows))
        if whole
        else {r["distance"]: r["n"] for r in kb.query(Q_EVOKED_COUNTS, {"n": key})}
    )
    by: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if len(by[r["distance"]]) < PER_DISTANCE:
            by[r["distance"]].append(
                _card(r["image"], r["uris"], element=r["element"], weight=round(r["weight"], 3))
            )
    for d in DISTANCES:  # H24: a distance the shared LIMIT cut short (more rows at nearer ones)
        if len(by[d]) < min(PER_DISTANCE, counts.get(d, 0)):
            by[d] = [
                _card(r["image"], r["uris"], element=r["element"], weight=round(r["weight"], 3))
                for r in kb.query(Q_EVOKED_BY_AT, {"n": key, "d": d, "limit": PER_DISTANCE})
            ]
    groups = [
        {"distance": d, "name": DISTANCE_NAMES[d], "total": counts.get(d, 0), "images": by[d]}
        for d in DISTANCES
        if counts.get(d)
    ]
    as_element = [
        _card(r["image"], r["uris"])
        for r in kb.query(Q_AS_ELEMENT, {"n": key, "limit": PER_DISTANCE})
    ]
    return {
        "concept": found[0],
        "as_element": as_element,
        "evoked_by": groups,
        "neighbours_out": kb.query(Q_OUT, {"n": key, "limit": NEIGHBOURS}),
        "neighbours_in": kb.query(Q_IN, {"n": key, "limit": NEIGHBOURS}),
        "creative": creative_pairs(kb, key, evokes=rows if whole and indexed else None, at=version),
    }


def creative_pairs(
    kb: GraphStore,
    key: str,
    min_distance: int = CREATIVE_MIN_DISTANCE,
    *,
    evokes: list[dict[str, Any]] | None = None,
    at: Any = None,
) -> list[dict[str, Any]]:
    """Pairs of images that both evoke ``key`` abstractly (distance >=
    ``min_distance``) but share no literal element: the first
    :data:`CREATIVE_PAIRS` of the pool's pairs in order ((0, 1), (0, 2), ...;
    the pool is the first :data:`CREATIVE_POOL` such images by id).

    The first :data:`FIRST_POOL` images are read first: when the first image
    makes enough pairs with those, they are the pairs the whole pool gives (its
    pairs come first in that order); otherwise the whole pool is read (H24:
    most concept pages then read 24 images and their elements, not 200).

    ``evokes``: every EVOKES edge into the concept with its image
    (``Q_EVOKED_BY_NODES``' rows, read at write version ``at``, not cut by its
    LIMIT): the pool's images are taken from them and their elements from
    :mod:`~evokegraph.queries.web.pool_index` once it is loaded (H24: no pool
    query; the same pool)."""
    index = pool_index.index_for(kb, at) if evokes is not None else None
    if index is not None and evokes is not None:
        found = {r["image"]: r for r in evokes if r["distance"] >= min_distance}
        ids = sorted(found)

        def pool_of(limit: int) -> list[dict[str, Any]]:
            rows = (found[i] for i in ids[:limit])
            return [
                {"image": r["image"], "uris": r["uris"], "elements": index.elements(r["node"])}
                for r in rows
            ]
    else:

        def pool_of(limit: int) -> list[dict[str, Any]]:
            params = {"n": key, "d": min_distance, "limit": limit}
            return kb.query(Q_ABSTRACT_POOL, params)

    pool = pool_of(FIRST_POOL)
    if len(pool) == FIRST_POOL < CREATIVE_POOL:  # there may be more
        first = _pairs(pool, only_first=True)
        if len(first) >= CREATIVE_PAIRS:
            return first
        pool = pool_of(CREATIVE_POOL)
    return _pairs(pool)


def _pairs(pool: list[dict[str, Any]], *, only_first: bool = False) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    pairs = ((pool[0], b) for b in pool[1:]) if only_first and pool else combinations(pool, 2)
    for a, b in pairs:  # pool is sorted by image id
        if set(a["elements"]).isdisjoint(b["elements"]):
            out.append(
                {
                    "a": _card(a["image"], a["uris"], elements=sorted(a["elements"])),
                    "b": _card(b["image"], b["uris"], elements=sorted(b["elements"])),
                }
            )
            if len(out) >= CREATIVE_PAIRS:
                break
    return out


def query_catalogue() -> list[dict[str, Any]]:
    return [
        {
            "name": q.name,
            "description": q.description,
            "params": [
                {
                    "name": p.name,
                    "required": p.required,
                    "default": None if p.required else p.default,
                    "help": p.help,
                }
                for p in q.params
            ],
        }
        for q in catalogue().values()
    ]


_IMAGE_PARAMS = ("image", "a", "b")


def run_named(kb: GraphStore, name: str, given: dict[str, str]) -> dict[str, Any]:
    """Run a named query from form strings: numbers where the default is a
    number, image ids resolved from prefixes."""
    q = get(name)
    params: dict[str, Any] = {}
    for p in q.params:
        raw = given.get(p.name, "").strip()
        if not raw:
            continue
        if p.name in _IMAGE_PARAMS:
            params[p.name] = image_id_of(kb, raw)
        elif not p.required and not isinstance(p.default, str):
            try:
                params[p.name] = json.loads(raw)
            except json.JSONDecodeError:
                raise UserInputError(f"parameter {p.name}={raw!r} must be a number") from None
        else:
            params[p.name] = " ".join(raw.split()).casefold()
    rows = run(kb, name, params)
    return {"name": name, "params": params, "columns": list(rows[0]) if rows else [], "rows": rows}


def cypher(kb: GraphStore, text: str) -> dict[str, Any]:
    """The read-only Cypher box: the store refuses statements that write."""
    if not text.strip():
        return {"columns": [], "rows": [], "truncated": False}
    unset = dialect.parameters(text)
    if unset:
        raise UserInputError(
            f"The Cypher box takes no parameters: write the value of "
            f"{', '.join('$' + n for n in unset)} into the query itself."
        )
    try:
        rows = kb.query(text, {}, write=False)
    except ReadOnlyQueryError:
        raise ReadOnlyQueryError(
            "The explorer is read-only: this statement writes (CREATE, MERGE, SET, DELETE, ...) "
            "and was not run. Change the knowledge base with the evokegraph command line "
            "(evokegraph cypher --write)."
        ) from None
    except QueryTimeoutError:
        raise
    except UserInputError as exc:  # names the store's Cypher dialect where that is the reason
        raise UserInputError(dialect.describe(kb.backend, str(exc))) from None
    return {
        "columns": list(rows[0]) if rows else [],
        "rows": rows[:CYPHER_ROWS],
        "truncated": len(rows) > CYPHER_ROWS,
    }
