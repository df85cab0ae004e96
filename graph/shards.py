"""Sharded outputs: one Parquet file per table per shard, with completion markers.

Layout of a shards folder::

    SHARDS/manifest.json              the job: inputs digest, settings, run record
    SHARDS/shard-00000/images.parquet  (and elements, has_element, is, concepts,
                                        evokes, failures): the rows of the graph
                                        tables, exactly as the store writes them
    SHARDS/shard-00000/_SUCCESS        written last: the shard is complete

A shard is written into ``shard-NNNNN.tmp`` and renamed, then its marker is
written; a shard without marker is redone by a resumed job. The rows are those
of :func:`evokegraph.graph.write_plan.plan_write`, so ``COPY`` can take the files
as they are and the incremental path can rebuild the same records.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from evokegraph.errors import UserInputError
from evokegraph.graph import plan_columns
from evokegraph.graph.arrow_schema import table_schema as arrow_table_schema
from evokegraph.graph.plan_columns import TABLES as TABLES  # the one table map, re-exported
from evokegraph.records import (
    Element,
    Evocation,
    Failure,
    GraphBatch,
    ImageEntry,
    ImageRecord,
)
from evokegraph.stage_keys import STAGE_ASSOCIATIONS, STAGE_ELEMENTS

MANIFEST = "manifest.json"
MARKER = "_SUCCESS"
FORMAT = 1


def table_schema(stem: str) -> pa.Schema:
    """The Arrow schema of one shard table: the graph table's columns, in order."""
    return arrow_table_schema(TABLES[stem][0])


def shard_name(index: int) -> str:
    return f"shard-{index:05d}"


def plan_tables(batch: GraphBatch) -> dict[str, pa.Table]:
    """A batch as the rows of each graph table (the rows ``GraphStore.write`` sends),
    planned column by column (:mod:`evokegraph.graph.plan_columns`)."""
    return plan_columns.plan_tables(batch)


def write_shard(root: Path, index: int, batch: GraphBatch, counts: dict[str, Any]) -> Path:
    """Write one shard atomically (tmp folder, rename), then its completion marker."""
    final = root / shard_name(index)
    tmp = root / (shard_name(index) + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(final, ignore_errors=True)  # an unfinished earlier attempt
    tmp.mkdir(parents=True)
    for stem, table in plan_tables(batch).items():
        pq.write_table(table, tmp / f"{stem}.parquet")
    os.replace(tmp, final)
    (final / MARKER).write_text(json.dumps(counts, sort_keys=True))
    return final


def start_job(root: Path, job: str, counts: dict[str, int], run: dict[str, Any]) -> dict[str, Any]:
    """The manifest of the job ``job`` (a digest of its inputs and settings) in
    ``root``: the one there, or a new one with ``counts`` and the ``run`` row; a
    folder holding another job's shards is refused."""
    path = root / MANIFEST
    if path.is_file():
        old: dict[str, Any] = json.loads(path.read_text())
        if old.get("job") != job:
            raise UserInputError(
                f"{root} holds the shards of another job (other inputs or settings); "
                "pass a new --shards folder, or delete that one to start over"
            )
        return old
    root.mkdir(parents=True, exist_ok=True)
    manifest = {"format": FORMAT, "job": job, **counts, "run": run}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    os.replace(tmp, path)
    return manifest


def is_complete(root: Path, index: int) -> bool:
    return (root / shard_name(index) / MARKER).is_file()


@dataclass
class ShardSet:
    """The complete shards of a folder, in order."""

    root: Path
    manifest: dict[str, Any]
    shards: list[Path]

    def files(self, stem: str) -> list[Path]:
        return [s / f"{stem}.parquet" for s in self.shards]

    def table(self, stem: str) -> pa.Table:
        parts = [pq.read_table(f, schema=table_schema(stem)) for f in self.files(stem)]
        if not parts:
            return table_schema(stem).empty_table()
        # one chunk: LadybugDB's Arrow scan stops at the first empty chunk
        return pa.concat_tables(parts).combine_chunks()


def open_shards(root: Path) -> ShardSet:
    """A finished shards folder, or a one-line error naming what is missing."""
    root = Path(root)
    mf = root / MANIFEST
    if not mf.is_file():
        raise UserInputError(
            f"{root} is not a shards folder (no {MANIFEST}); "
            "pass the --shards folder of `evokegraph ingest --engine ray`"
        )
    manifest = json.loads(mf.read_text())
    if manifest.get("format") != FORMAT:
        raise UserInputError(f"{root}: unknown shards format {manifest.get('format')!r}")
    n = int(manifest["shards"])
    missing = [shard_name(i) for i in range(n) if not is_complete(root, i)]
    if missing:
        raise UserInputError(
            f"{root}: {len(missing)} of {n} shards unfinished ({', '.join(missing[:3])}...); "
            "rerun the same `evokegraph ingest --engine ray` command to finish them"
        )
    return ShardSet(root, manifest, [root / shard_name(i) for i in range(n)])


def first_by_key(table: pa.Table, key: str) -> pa.Table:
    """Rows with a unique ``key``: the first occurrence wins (shard order)."""
    if len(pc.unique(table[key])) == table.num_rows:
        return table
    pos = table.select([key]).append_column("_i", pa.array(range(table.num_rows), pa.int64()))
    first = pos.group_by(key).aggregate([("_i", "min")])["_i_min"]
    return table.take(pc.take(first, pc.sort_indices(first)))


# -- back to records (the incremental path) --------------------------------------
def shard_batch(shard: Path) -> GraphBatch:
    """The records of one shard, such that ``plan_write`` gives its rows again."""
    tab = {stem: pq.read_table(shard / f"{stem}.parquet").to_pylist() for stem in TABLES}
    pos = {r["name"]: r["pos"] for r in tab["concepts"]}
    elements: dict[str, list[Element]] = defaultdict(list)
    for r in tab["elements"]:
        elements[r["image_id"]].append(
            Element(
                **{k: r[k] for k in ("name", "concept", "pos", "saliency", "rank")},
                box=r["box"],
                grounding=r["grounding"],
            )
        )
    evocations: dict[str, list[Evocation]] = defaultdict(list)
    for r in tab["evokes"]:
        # an image whose associations alone were redone has no element rows here:
        # its element id is "image_id:concept" (write_plan)
        image_id, concept = r["from"].split(":", 1)
        evocations[image_id].append(
            Evocation(
                element=concept,
                concept=r["to"],
                surface=r["surface"],
                pos=pos.get(r["to"], "NOUN"),
                **{k: r[k] for k in ("distance", "rank", "weight", "grounding", "run")},
            )
        )
    return GraphBatch(
        images=[_entry(r, elements, evocations) for r in tab["images"]],
        failures=[_failure(r) for r in tab["failures"]],
        concepts={
            r["name"]: r["concreteness"] for r in tab["concepts"] if r["concreteness"] is not None
        },
    )


def _entry(
    r: dict[str, Any],
    elements: dict[str, list[Element]],
    evocations: dict[str, list[Evocation]],
) -> ImageEntry:
    keys = json.loads(r["stage_keys"] or "{}")
    image = ImageRecord(**{k: r[k] for k in ImageRecord.model_fields if r.get(k) is not None})
    return ImageEntry(
        image=image,
        elements=elements.get(image.id, []) if STAGE_ELEMENTS in keys else None,
        evocations=evocations.get(image.id, []) if STAGE_ASSOCIATIONS in keys else None,
        stage_keys=keys,
    )


def _failure(r: dict[str, Any]) -> Failure:
    return Failure(**{**r, "at": datetime.fromisoformat(r["at"])})


def iter_batches(shards: ShardSet) -> Iterator[tuple[Path, GraphBatch]]:
    for s in shards.shards:
        yield s, shard_batch(s)
