"""The write plan (pure): a :class:`GraphBatch` -> the rows each table receives.

Both backends execute the same plan; they differ only in how rows are sent
(``COPY FROM`` Arrow tables or ``UNWIND $rows``). Merging an image seen again
and the ASSOCIATED_WITH rows of a recompute live here too.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from evokegraph.graph import rows as R
from evokegraph.records import GraphBatch, ImageEntry, unite
from evokegraph.stage_keys import STAGE_ASSOCIATIONS, STAGE_DECODE, failure_stage
from evokegraph.weights import aggregate_weight

Row = dict[str, Any]


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
        """Parameters of :data:`~evokegraph.graph.cypher_text.Q_FAILURES_OF`, or None when nothing is resolved."""
        if not self.resolved and not self.decoded_uris:
            return None
        ids = sorted({i for i, _ in self.resolved})
        return {"ids": ids, "uris": sorted(self.decoded_uris)}

    def resolved_failure_ids(self, rows: Sequence[Row]) -> list[str]:
        """Of the stored failures ``rows`` (from :data:`~evokegraph.graph.cypher_text.Q_FAILURES_OF`), those this
        write resolves; the caller deletes them before writing new failures."""
        return [
            r["id"]
            for r in rows
            if (r["image_id"], r["stage"]) in self.resolved
            or (r["stage"] == STAGE_DECODE and r["uri"] in self.decoded_uris)
        ]


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
                "uris": unite(old.image.uris, e.image.uris),
                "captions": unite(old.image.captions, e.image.captions),
            }
        )
        out[e.image.id] = ImageEntry(
            image=im,
            elements=e.elements if e.elements is not None else old.elements,
            evocations=e.evocations if e.evocations is not None else old.evocations,
            stage_keys={**old.stage_keys, **e.stage_keys},
        )
    return list(out.values())


def resolution(image_rows: Iterable[Row]) -> WritePlan:
    """The failures that image rows (``id``, ``uris``, ``stage_keys`` as in
    :func:`plan_write`) resolve, as a plan holding only that (rows written as they are)."""
    plan = WritePlan()
    for r in image_rows:
        plan.resolved |= {(r["id"], failure_stage(k)) for k in json.loads(r["stage_keys"])}
        plan.decoded_uris |= set(r["uris"])
    return plan


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
        "uris": unite(old.get("uris"), new["uris"]),
        "width": new["width"] or old.get("width") or 0,
        "height": new["height"] or old.get("height") or 0,
        "format": new["format"] or old.get("format") or "",
        "split": new["split"] or old.get("split") or "",
        "captions": unite(old.get("captions"), new["captions"]),
        "description": new["description"] or old.get("description") or "",
        "stage_keys": json.dumps(keys, sort_keys=True),
    }


def mean_weight(row: Row) -> float:
    """The mean EVOKES weight of an aggregate row, from its ``weights`` with an
    exactly rounded sum (``math.fsum``), so the stored value does not depend on
    the order a parallel engine visited the edges in."""
    ws = [float(w) for w in row["weights"]]
    return math.fsum(ws) / len(ws)


def aggregate_rows(rows: Sequence[Row]) -> list[Row]:
    return [
        {
            "from": r["source"],
            "to": r["target"],
            "distance": int(r["distance"]),
            "weight": aggregate_weight(mean_weight(r), int(r["support"])),
            "support": int(r["support"]),
        }
        for r in rows
    ]


AW_SCHEMA = pa.schema(
    [
        ("from", pa.string()),
        ("to", pa.string()),
        ("distance", pa.int64()),
        ("weight", pa.float64()),
        ("support", pa.int64()),
    ]
)


def aggregate_table(evokes: pa.Table) -> pa.Table:
    """ASSOCIATED_WITH rows from EVOKES rows in one pass (the Arrow form of
    :func:`aggregate_rows`, same bits): ``evokes`` has ``source`` (the element's
    concept), ``image_id``, ``target``, ``distance``, ``weight``. Per (source,
    target, distance), source != target: support = distinct images, weight from
    the mean weight (``math.fsum``, exactly rounded, so the order rows come in
    does not matter) and the support. Rows sorted by (from, to, distance).

    Grouping runs on integer keys (names ranked in one sorted vocabulary), so a
    2.5M-edge graph takes seconds in numpy where Arrow's hash grouping on three
    string keys took minutes on two cores."""
    ev = evokes.combine_chunks()
    ev = ev.filter(pc.not_equal(ev["source"], ev["target"]))
    if not ev.num_rows:
        return AW_SCHEMA.empty_table()
    vocab = pc.unique(
        pa.concat_arrays([ev["source"].combine_chunks(), ev["target"].combine_chunks()])
    )
    vocab = vocab.take(pc.sort_indices(vocab))
    src = pc.index_in(ev["source"], vocab).to_numpy().astype(np.int64)
    tgt = pc.index_in(ev["target"], vocab).to_numpy().astype(np.int64)
    dist = ev["distance"].to_numpy().astype(np.int64)
    if dist.min() < 0 or dist.max() > 15:
        raise ValueError("EVOKES distance outside 0..15")
    key = (src * len(vocab) + tgt) * 16 + dist
    order = np.argsort(key, kind="stable")
    skey = key[order]
    starts = np.flatnonzero(np.r_[True, skey[1:] != skey[:-1]])
    counts = np.diff(np.r_[starts, len(skey)])
    weights = ev["weight"].to_numpy()[order]
    images = pc.index_in(ev["image_id"], pc.unique(ev["image_id"])).to_numpy()[order]
    support = _distinct_per_group(skey, images.astype(np.int64), starts)
    mean = weights[starts].copy()  # one weight: the mean is the weight itself
    for g in np.flatnonzero(counts > 1):
        ws = weights[starts[g] : starts[g] + counts[g]]
        mean[g] = math.fsum(ws.tolist()) / len(ws)
    gkey = skey[starts]
    pair, gdist = gkey // 16, gkey % 16
    return pa.table(
        [
            vocab.take(pa.array(pair // len(vocab))),
            vocab.take(pa.array(pair % len(vocab))),
            pa.array(gdist, pa.int64()),
            pa.array(
                [
                    aggregate_weight(m, s)
                    for m, s in zip(mean.tolist(), support.tolist(), strict=True)
                ],
                pa.float64(),
            ),
            pa.array(support, pa.int64()),
        ],
        schema=AW_SCHEMA,
    )


def _distinct_per_group(skey: np.ndarray, images: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Distinct image codes per group of the sorted keys ``skey``."""
    n = int(images.max()) + 1
    if int(skey[-1]) < np.iinfo(np.int64).max // n:  # one int64 per (group, image)
        combined = np.unique(skey * n + images)
        keys = combined // n
    else:
        keys = np.unique(np.stack([skey, images], axis=1), axis=0)[:, 0]
    firsts = np.searchsorted(keys, skey[starts], side="left")
    lasts = np.searchsorted(keys, skey[starts], side="right")
    out: np.ndarray = (lasts - firsts).astype(np.int64)
    return out


def in_groups(sizes: Sequence[int], most: int) -> list[list[int]]:
    """Indices of consecutive items in groups whose ``sizes`` add up to at most
    ``most`` (an item bigger than that alone): the transactions of a load's shards
    and of a rebuild's ranges."""
    out: list[list[int]] = []
    size = most
    for i, n in enumerate(sizes):
        if size + n > most and size:
            out.append([])
            size = 0
        out[-1].append(i)
        size += n
    return out
