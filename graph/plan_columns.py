"""The write plan as Arrow columns, built straight from the records (pure).

:func:`plan_tables` gives, table by table, exactly the Arrow tables that
``to_table(plan_write(batch).<rows>)`` gives (same rows, same order, same
values): what ``COPY`` takes, what the Parquet shards hold. The row planner
(:func:`evokegraph.graph.write_plan.plan_write`) builds a dict per row and then
turns the dicts into columns: ~5 us per EVOKES edge of Python, more than the
engine's own ``COPY`` of the rows. Here the records' fields become columns in
one Arrow conversion of their attribute dicts, element ids are joined by
pyarrow, the concepts' first-seen order comes from one dictionary encoding.

:func:`columns` covers the batches every ingest flush and shard writes (new
images, each once, each element and evocation once); it answers None for the
rare rest (one picture twice in a batch, captions, an element or an
evocation given twice, an evocation without weight), which
:func:`plan_tables` sends through the row planner, so what is written never
depends on which way was taken (tests/test_plan_columns.py).
"""

from __future__ import annotations

import json
from itertools import chain
from operator import attrgetter
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from evokegraph.graph import rows as R
from evokegraph.graph import write_plan
from evokegraph.graph.arrow_schema import table_schema, to_table
from evokegraph.records import GraphBatch, concept_key, unite

# The one table map: file stem -> (graph table, is a node table, WritePlan rows field)
TABLES: dict[str, tuple[str, bool, str]] = {
    "concepts": ("Concept", True, "concepts"),
    "images": ("Image", True, "images"),
    "elements": ("Element", True, "elements"),
    "failures": ("Failure", True, "failures"),
    "has_element": ("HAS_ELEMENT", False, "has_element"),
    "is": ("IS", False, "is_rows"),
    "evokes": ("EVOKES", False, "evokes"),
}

# the record fields read into columns, with their Arrow types
_ELEMENT_TYPES = pa.struct(
    [
        ("name", pa.string()),
        ("concept", pa.string()),
        ("pos", pa.string()),
        ("saliency", pa.float64()),
        ("rank", pa.int64()),
        ("box", pa.list_(pa.float64())),
        ("grounding", pa.float64()),
    ]
)
_ELEMENT = tuple(f.name for f in _ELEMENT_TYPES)
_EVOCATION_TYPES = pa.struct(
    [
        ("element", pa.string()),
        ("concept", pa.string()),
        ("pos", pa.string()),
        ("distance", pa.int64()),
        ("weight", pa.float64()),
        ("rank", pa.int64()),
        ("surface", pa.string()),
        ("grounding", pa.float64()),
        ("run", pa.string()),
    ]
)


def stem_schema(stem: str) -> pa.Schema:
    return table_schema(TABLES[stem][0])


def plan_tables(batch: GraphBatch) -> dict[str, pa.Table]:
    """Every table's planned rows as Arrow (by file stem), columnar when it can be."""
    tables = columns(batch)
    if tables is not None:
        return tables
    plan = write_plan.plan_write(batch)
    return {
        stem: to_table(getattr(plan, f), stem_schema(stem)) for stem, (_, _, f) in TABLES.items()
    }


def columns(batch: GraphBatch) -> dict[str, pa.Table] | None:
    """The planned tables built column by column, or None for a batch the row
    planner must take (see the module's doc)."""
    entries = batch.images
    ids = [e.image.id for e in entries]
    if batch.captions or len(set(ids)) != len(ids):
        return None
    out: dict[str, pa.Table] = {"images": _images(batch)}

    # elements, in entry order
    n_el = np.array([len(e.elements or ()) for e in entries], dtype=np.int64)
    els = list(chain.from_iterable(e.elements or () for e in entries))
    el_image = _repeat(ids, n_el)
    el = _struct_cols(_ELEMENT_TYPES, els)
    el_concept = el["concept"]
    el_id = _element_ids(el_image, el_concept)
    if len(els) and pc.count_distinct(el_id).as_py() != len(els):
        return None  # an element twice (the first one wins): the row planner
    out["elements"] = pa.table(
        [el_id, el_image, *(el[f] for f in _ELEMENT)], schema=stem_schema("elements")
    )
    out["has_element"] = pa.table([el_image, el_id], schema=stem_schema("has_element"))
    out["is"] = pa.table([el_id, el_concept], schema=stem_schema("is"))

    # evocations, in entry order; an element never evokes itself
    n_ev = np.array([len(e.evocations or ()) for e in entries], dtype=np.int64)
    evs = list(chain.from_iterable(e.evocations or () for e in entries))
    ev = _struct_cols(_EVOCATION_TYPES, evs)
    ev_element, ev_target, ev_weight = ev["element"], ev["concept"], ev["weight"]
    keep = pc.not_equal(ev_element, ev_target)
    if pc.sum(pc.and_(keep, pc.is_null(ev_weight))).as_py():
        return None  # the row planner names the evocation without weight
    ev_surface = ev["surface"]
    evokes = pa.table(
        [
            _element_ids(_repeat(ids, n_ev), ev_element),
            ev_target,
            ev["distance"],
            ev_weight,
            ev["rank"],
            pc.if_else(pc.equal(ev_surface, ""), ev_target, ev_surface),
            ev["grounding"],
            ev["run"],
        ],
        schema=stem_schema("evokes"),
    )
    evokes = kept(evokes, keep)
    if not _unique_evocations(evokes):
        return None  # one (element, concept, distance) twice: best rank wins, row planner
    out["evokes"] = evokes

    out["concepts"] = _concepts(
        batch, n_el, n_ev, el_concept, el["pos"], ev_element, ev_target, ev["pos"]
    )
    failures = list({f.id: R.failure_row(f) for f in batch.failures}.values())
    out["failures"] = to_table(failures, stem_schema("failures"))
    return {stem: out[stem] for stem in TABLES}


def kept(table: pa.Table, mask: pa.Array | pa.ChunkedArray) -> pa.Table:
    """``table.filter(mask)``, or ``table`` itself when every row is kept (the
    usual case: no copy of its columns)."""
    if len(mask) and (pc.sum(mask).as_py() or 0) == len(mask):
        return table
    return table.filter(mask)


def _struct_cols(fields: pa.StructType, items: list[Any]) -> dict[str, pa.Array]:
    """One Arrow column per field of ``fields``, read from the records' attribute
    dicts by Arrow's converter in one C loop (a ``map(attrgetter)`` list per field,
    then ``pa.array`` of each, was 3-5x slower); values are those of ``getattr``
    (a pydantic model keeps its fields in ``__dict__``)."""
    arr = pa.array([vars(x) for x in items], fields)
    return {f.name: col for f, col in zip(fields, arr.flatten(), strict=True)}


def _unique_evocations(evokes: pa.Table) -> bool:
    """No (from, to, distance) twice: one int64 key per row from the dictionary
    codes, then a sort (pyarrow's group-by was ~10x slower)."""
    n = evokes.num_rows
    dist = evokes["distance"]
    if n < 2:
        return True
    if dist.null_count or pc.min(dist).as_py() < 0:  # the general case, rare
        return bool(evokes.group_by(["from", "to", "distance"]).aggregate([]).num_rows == n)
    frm = pc.dictionary_encode(evokes["from"]).combine_chunks()
    to = pc.dictionary_encode(evokes["to"]).combine_chunks()
    span = int(pc.max(dist).as_py()) + 1
    if n * n * span >= 2**62:  # the key could overflow: the general case
        return bool(evokes.group_by(["from", "to", "distance"]).aggregate([]).num_rows == n)
    key = frm.indices.to_numpy().astype(np.int64) * len(to.dictionary)
    key += to.indices.to_numpy()
    key *= span
    key += dist.to_numpy()
    key.sort()
    return not bool((key[1:] == key[:-1]).any())


def _repeat(ids: list[str], counts: np.ndarray) -> pa.Array:
    """Each entry's image id, once per row of that entry."""
    idx = np.repeat(np.arange(len(ids), dtype=np.int64), counts)
    return pa.array(ids, pa.string()).take(pa.array(idx))


def _element_ids(image: pa.Array, concept: pa.Array) -> pa.Array:
    """``records.element_id`` of each row: ``image_id:concept_key(concept)``."""
    return pc.binary_join_element_wise(image, _concept_keys(concept), ":")


# a string ``concept_key`` gives back unchanged: printable ASCII but A-Z (ASCII
# casefolds to lower case), no whitespace but single spaces between words
_CANONICAL = r"^[!-@\[-~]+( [!-@\[-~]+)*$"


def _concept_keys(concept: pa.Array) -> pa.Array:
    """``concept_key`` of each value. The records' validators store concepts as
    keys already, so one regex pass over the column usually shows there is
    nothing to do; otherwise the key is computed once per distinct value."""
    if not len(concept):
        return pa.array([], pa.string())
    if pc.all(pc.match_substring_regex(concept, _CANONICAL)).as_py() is not False:
        return concept  # every value its own key (nulls stay nulls, as below)
    enc = pc.dictionary_encode(concept)
    keys = pa.array([concept_key(c) for c in enc.dictionary.to_pylist()], pa.string())
    return keys.take(enc.indices)


def _images(batch: GraphBatch) -> pa.Table:
    """``rows.image_row`` of each entry, column by column."""
    entries = batch.images
    ims = [e.image for e in entries]
    schema = stem_schema("images")
    dumped: dict[tuple[tuple[str, str], ...], str] = {}

    def stage_keys(keys: dict[str, str]) -> str:
        # the same keys (mostly one set per run) are dumped once; exact str
        # keys and values only, so equal tuples mean equal JSON
        items = tuple(keys.items())
        if not all(type(k) is str and type(v) is str for k, v in items):
            return json.dumps(keys, sort_keys=True)
        got = dumped.get(items)
        if got is None:
            got = dumped[items] = json.dumps(keys, sort_keys=True)
        return got

    cols: dict[str, list[Any]] = {
        "id": [im.id for im in ims],
        "uris": [u if len(u) < 2 else unite(u) for u in (im.uris for im in ims)],
        "captions": [list(im.captions) for im in ims],
        "stage_keys": [stage_keys(e.stage_keys) for e in entries],
    }
    for f in ("width", "height", "format", "split", "description"):
        cols[f] = list(map(attrgetter(f), ims))
    return pa.table([pa.array(cols[f.name], f.type) for f in schema], schema=schema)


def _concepts(
    batch: GraphBatch,
    n_el: np.ndarray,
    n_ev: np.ndarray,
    el_concept: pa.Array,
    el_pos: pa.Array,
    ev_element: pa.Array,
    ev_target: pa.Array,
    ev_pos: pa.Array,
) -> pa.Table:
    """``rows.concept_rows``: every concept in the order first seen (per entry its
    elements' concepts, then each evocation's element and concept; then the
    batch's rated concepts), with the part of speech it was first seen with.
    The names are laid out in that order by their positions, then one
    dictionary encoding keeps each name's first occurrence."""
    # position of each name in the row planner's visiting order
    span = n_el + 2 * n_ev
    base = np.cumsum(span) - span
    el_pos_at = _local(n_el) + np.repeat(base, n_el)
    ev_at = 2 * _local(n_ev) + np.repeat(base + n_el, n_ev)
    extra = list(batch.concepts)
    total = int(span.sum())
    names = pa.concat_arrays([el_concept, ev_element, ev_target, pa.array(extra, pa.string())])
    noun = pa.scalar("NOUN", pa.string())
    pos = pa.concat_arrays(
        [el_pos, pa.repeat(noun, len(ev_element)), ev_pos, pa.repeat(noun, len(extra))]
    )
    at = np.concatenate([el_pos_at, ev_at, ev_at + 1, total + np.arange(len(extra))])
    # ``at`` is a permutation of 0..n-1 (each entry's names fill its span): the
    # order that sorts it is its inverse, no sort needed
    order = np.empty(len(at), dtype=np.int64)
    order[at] = np.arange(len(at), dtype=np.int64)
    enc = pc.dictionary_encode(names.take(pa.array(order)))
    uniq = enc.dictionary
    first = _first_positions(enc.indices, len(uniq))
    rated = batch.concepts
    conc = [rated.get(k) for k in uniq.to_pylist()] if rated else [None] * len(uniq)
    return pa.table(
        [uniq, pos.take(pa.array(order[first])), pa.array(conc, pa.float64())],
        schema=stem_schema("concepts"),
    )


def _first_positions(indices: pa.Array, n_codes: int) -> np.ndarray:
    """Where each code of a dictionary encoding first occurs, by code. Arrow
    numbers the values in the order first seen, so a code first occurs where
    the running maximum of the codes rises (no sort); checked, and found by a
    sort otherwise (or when a value is null)."""
    codes = indices.to_numpy(zero_copy_only=False)
    if not indices.null_count:
        rises = np.flatnonzero(np.diff(np.maximum.accumulate(codes), prepend=-1))
        if len(rises) == n_codes:  # the first-seen codes were 0, 1, 2, ... in order
            return rises
    _, first = np.unique(codes, return_index=True)
    out: np.ndarray = first
    return out


def _local(counts: np.ndarray) -> np.ndarray:
    """0..n-1 within each group of ``counts`` rows."""
    total = int(counts.sum())
    starts = np.cumsum(counts) - counts
    out: np.ndarray = np.arange(total, dtype=np.int64) - np.repeat(starts, counts)
    return out
