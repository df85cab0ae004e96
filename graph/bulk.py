"""Bulk import of sharded outputs (:mod:`evokegraph.graph.shards`) into a store.

* An empty LadybugDB knowledge base: one ``COPY`` per table of the shards'
  Arrow tables (concepts and failures deduplicated, first shard wins), in one
  transaction.
* A non-empty LadybugDB, or a Neo4j database: the normal idempotent
  ``GraphStore.write`` (replace per image), one shard per transaction; on
  Neo4j that is batched ``UNWIND``.
* A new Neo4j database: the CSV layout of ``neo4j-admin database import full``
  and the exact command (:func:`export_neo4j`).

ASSOCIATED_WITH is rebuilt once after a load, never per batch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from evokegraph.graph import rows as R
from evokegraph.graph import schema, write_plan
from evokegraph.graph.arrow_schema import rel_schema, to_table
from evokegraph.graph.protocol import CHECKPOINT_EVERY_S, BulkStore
from evokegraph.graph.schema import NODE_BY_LABEL, REL_BY_TYPE, SCHEMA_VERSION
from evokegraph.graph.shards import TABLES, ShardSet, first_by_key, shard_batch, table_schema
from evokegraph.graph.store import GraphStore
from evokegraph.records import RunRecord, utcnow
from evokegraph.runs import new_run_id


@dataclass
class LoadReport:
    mode: str  # copy | incremental
    shards: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    # element concepts whose associations changed; None: recompute them all
    touched: set[str] | None = None


def is_empty(store: GraphStore) -> bool:
    s = store.stats().model_dump()
    return not any(v for k, v in s.items() if k != "runs")


def merged_tables(shards: ShardSet) -> dict[str, pa.Table]:
    """Every table of every shard, concatenated; node keys deduplicated (first wins)."""
    out = {stem: shards.table(stem) for stem in TABLES}
    for stem, key in (("concepts", "name"), ("failures", "id")):
        out[stem] = first_by_key(out[stem], key)
    return out


def load(store: GraphStore, shards: ShardSet, *, force_incremental: bool = False) -> LoadReport:
    """Load finished shards into ``store``; ASSOCIATED_WITH is rebuilt once at the end."""
    t0 = time.perf_counter()
    # a load or ingest stopped before its rebuild ended (the key left at "1"; a
    # grouped copy killed half way, too): every edge is rebuilt, not the touched ones
    dirty = store.get_meta(schema.AW_DIRTY) == "1"
    report: LoadReport | None = None
    if isinstance(store, BulkStore) and not force_incremental and is_empty(store):
        report = _copy_load(store, shards)
    if report is None:
        report = _incremental_load(store, shards)
    if dirty:
        report.touched = None
    report.shards = len(shards.shards)
    t = time.perf_counter()
    report.rows["associated_with"] = store.recompute_associations(report.touched)
    store.set_meta(schema.AW_DIRTY, "0")
    report.seconds["associations"] = time.perf_counter() - t
    _record_run(store, shards, report)
    report.seconds["total"] = time.perf_counter() - t0
    return report


def _copy_load(store: BulkStore, shards: ShardSet) -> LoadReport | None:
    """The shards into an empty store, a group of about :data:`COPY_GROUP_IMAGES`
    images per transaction (concepts and failures first seen in it), each
    checkpointed: what the engine holds for a transaction and its checkpoint is
    bounded by the group, not by the collection. A load killed between groups
    leaves the groups before; run again, it finds the store non-empty and goes
    the idempotent way (stored images replaced by the same rows)."""
    t = time.perf_counter()
    ids = pa.chunked_array(
        [pq.read_table(f, columns=["id"])["id"] for f in shards.files("images")], pa.string()
    )
    if len(pc.unique(ids)) != len(ids):
        return None  # one picture in several shards: merge it through the normal path
    read = time.perf_counter() - t
    copy = 0.0
    order = ["concepts", "images", "elements", "failures", "has_element", "is", "evokes"]
    rows = {stem: 0 for stem in order}
    seen = {stem: pa.array([], pa.string()) for stem in ("concepts", "failures")}
    for group in _groups(shards.shards, COPY_GROUP_IMAGES):
        t = time.perf_counter()
        tables = _group_tables(group)
        for stem, key in (("concepts", "name"), ("failures", "id")):
            new = tables[stem].filter(pc.invert(pc.is_in(tables[stem][key], seen[stem])))
            seen[stem] = pa.concat_arrays([seen[stem], new[key].combine_chunks()])
            tables[stem] = new
        read += time.perf_counter() - t
        t = time.perf_counter()
        store.bulk_copy([(TABLES[stem][0], tables[stem]) for stem in order], {schema.AW_DIRTY: "1"})
        store.checkpoint()
        copy += time.perf_counter() - t
        for stem in order:
            rows[stem] += tables[stem].num_rows
    return LoadReport(mode="copy", rows=rows, seconds={"read": read, "copy": copy})


def _incremental_load(store: GraphStore, shards: ShardSet) -> LoadReport:
    report = LoadReport(mode="incremental", rows={stem: 0 for stem in TABLES})
    store.set_meta(schema.AW_DIRTY, "1")
    bulk = store if isinstance(store, BulkStore) else None
    if bulk is not None:
        bulk.defer_checkpoints(CHECKPOINT_EVERY_S)
    try:
        _write_shards(store, shards, report)
    finally:
        if bulk is not None:
            bulk.defer_checkpoints(None)
    return report


# Shards are written together, one transaction per group of about this many images.
GROUP_IMAGES = 65_536
# An empty store is loaded a group of about this many images per transaction, each
# checkpointed (twelfth pass, peak RSS at 20k / 100k images: 964 / 1,438 MiB; 16,384:
# 790-817 / 1,122-1,130, but a 20k load then appends a second group, ~2x slower;
# 8,192: 710 / 1,060; one transaction of everything: 934 / 2,049)
COPY_GROUP_IMAGES = 32_768


def _write_shards(store: GraphStore, shards: ShardSet, report: LoadReport) -> None:
    """The idempotent path, a group of shards per transaction: where every image of a
    group is new (one look-up), its rows are copied as they are (``write_new``);
    otherwise each shard's records go through ``GraphStore.write`` (replace per image)."""
    touched: set[str] = set()
    full = False
    spent = 0.0
    bulk = store if isinstance(store, BulkStore) else None
    for group in _groups(shards.shards):
        t = time.perf_counter()
        counts: dict[str, int] | None = None
        if bulk is not None:
            tables = _group_tables(group)
            ids = tables["images"]["id"]
            if len(pc.unique(ids)) == len(ids):  # else: one picture twice, merged by write
                counts = bulk.write_new(tables)
        if counts is not None:
            touched |= set(tables["elements"]["concept"].to_pylist())
            spent += time.perf_counter() - t
            _add(report, counts)
            continue
        for shard in group:
            batch = shard_batch(shard)
            stored = store.image_records([e.image.id for e in batch.images])
            full |= bool(stored)  # stored work replaced: old support must go
            touched |= {el.concept for e in batch.images for el in e.elements or ()}
            t = time.perf_counter()
            _add(report, store.write(batch))
            spent += time.perf_counter() - t
    report.seconds["write"] = spent
    report.touched = None if full else touched


def _add(report: LoadReport, counts: dict[str, int]) -> None:
    for k, v in counts.items():
        report.rows[k] = report.rows.get(k, 0) + v


def _groups(shards: list[Path], most: int = GROUP_IMAGES) -> list[list[Path]]:
    """Consecutive shards in groups of at most ``most`` images (a bigger shard alone)."""
    sizes = [pq.ParquetFile(shard / "images.parquet").metadata.num_rows for shard in shards]
    return [[shards[i] for i in group] for group in write_plan.in_groups(sizes, most)]


def _group_tables(group: list[Path]) -> dict[str, pa.Table]:
    """The group's shard tables, concatenated; concepts and failures once (first wins)."""
    out = {
        stem: pa.concat_tables(
            [pq.read_table(s / f"{stem}.parquet", schema=table_schema(stem)) for s in group]
        )
        for stem in TABLES
    }
    for stem, key in (("concepts", "name"), ("failures", "id")):
        out[stem] = first_by_key(out[stem].combine_chunks(), key)
    return out


def _record_run(store: GraphStore, shards: ShardSet, report: LoadReport) -> None:
    run = shards.manifest.get("run")
    of_run = ""
    if run:  # the ingest run that wrote the shards
        rec = R.run_from_row(run)
        store.record_run(rec)
        of_run = rec.id
    store.record_run(
        RunRecord(
            id=new_run_id("load"),
            command="load",
            config={"shards": str(shards.root), "mode": report.mode, "of_run": of_run},
            counts={k: float(v) for k, v in report.rows.items()},
            timings={k: round(v, 3) for k, v in report.seconds.items()},
            finished=utcnow(),
            status="done",
        )
    )


# -- neo4j-admin import ----------------------------------------------------------
_NEO4J_TYPES = {
    "STRING": "string",
    "INT64": "long",
    "DOUBLE": "double",
    "STRING[]": "string[]",
    "DOUBLE[]": "double[]",
}
ARRAY_DELIMITER = "\x1f"  # unit separator: never in captions or names


def associated_with(tables: dict[str, pa.Table]) -> pa.Table:
    """ASSOCIATED_WITH rows from EVOKES and elements, as ``recompute_associations`` builds
    them (support = distinct images, weight from the mean weight and the support;
    the mean from an exactly rounded sum, as there, so both give the same bits)."""
    el = tables["elements"].select(["id", "image_id", "concept"])
    ev = tables["evokes"].select(["from", "to", "distance", "weight"])
    j = ev.join(el, keys="from", right_keys="id")
    j = j.filter(pc.not_equal(j["concept"], j["to"]))
    g = j.group_by(["concept", "to", "distance"]).aggregate(
        [("image_id", "count_distinct"), ("weight", "list")]
    )
    rows = [
        {"source": s, "target": t, "distance": d, "support": n, "weights": w}
        for s, t, d, n, w in zip(
            *(g[c].to_pylist() for c in ("concept", "to", "distance")),
            g["image_id_count_distinct"].to_pylist(),
            g["weight_list"].to_pylist(),
            strict=True,
        )
    ]
    out = write_plan.aggregate_rows(
        sorted(rows, key=lambda r: (r["source"], r["target"], r["distance"]))
    )
    return to_table(out, rel_schema("ASSOCIATED_WITH"))


def _csv_ready(table: pa.Table, header: list[str]) -> pa.Table:
    cols = []
    for col in table.columns:
        if pa.types.is_list(col.type):
            col = pc.binary_join(pc.cast(col, pa.list_(pa.string())), ARRAY_DELIMITER)
        cols.append(col)
    return pa.table(cols, names=header)


def _node_header(label: str) -> list[str]:
    node = NODE_BY_LABEL[label]
    return [
        f"{c}:ID({label})" if c == node.key else f"{c}:{_NEO4J_TYPES[t]}" for c, t in node.columns
    ]


def _rel_header(rel: str) -> list[str]:
    r = REL_BY_TYPE[rel]
    return [f":START_ID({r.source})", f":END_ID({r.target})"] + [
        f"{c}:{_NEO4J_TYPES[t]}" for c, t in r.columns
    ]


def export_neo4j(shards: ShardSet, out: Path, database: str = "neo4j") -> str:
    """Write the CSV files of ``neo4j-admin database import full``; returns the command."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tables: dict[str, Any] = merged_tables(shards)
    tables["associated_with"] = associated_with(tables)
    tables["meta"] = pa.table(
        {"key": ["schema_version", schema.AW_DIRTY], "value": [str(SCHEMA_VERSION), "0"]}
    )
    parts = []
    for stem, label in (("meta", "Meta"), *((s, TABLES[s][0]) for s in TABLES)):
        if stem in TABLES and not TABLES[stem][1]:
            continue
        pacsv.write_csv(_csv_ready(tables[stem], _node_header(label)), out / f"{stem}.csv")
        parts.append(f"--nodes={label}={out / f'{stem}.csv'}")
    rels = [(s, TABLES[s][0]) for s in TABLES if not TABLES[s][1]]
    for stem, rel in (*rels, ("associated_with", "ASSOCIATED_WITH")):
        pacsv.write_csv(_csv_ready(tables[stem], _rel_header(rel)), out / f"{stem}.csv")
        parts.append(f"--relationships={rel}={out / f'{stem}.csv'}")
    return " ".join(
        [
            "neo4j-admin database import full",
            "--overwrite-destination",
            "--array-delimiter=U+001F",
            "--multiline-fields=true",
            *parts,
            database,
        ]
    )
