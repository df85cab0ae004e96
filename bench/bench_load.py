"""Bulk-load benchmark: raw COPY vs ``evokegraph load`` vs the incremental path,
and Ray Data ingest throughput with 1 vs 2 workers.

Part 1 (store), in one run on one synthetic KB (default 20k images x 5
elements, one association per element and distance: 500k EVOKES, 200k
HAS_ELEMENT + IS, ~120k nodes), written as Parquet shards of 2,048 images:

* raw COPY: one ``COPY`` per table of the already merged Arrow tables into an
  empty KB, one transaction (the engine's speed; nothing else timed);
* ``load`` into an empty KB: read the shard files, deduplicate, check, COPY
  (what ``evokegraph load`` does; ASSOCIATED_WITH reported apart);
* incremental: ``GraphStore.write`` of the same records, one shard per
  transaction, into a fresh KB (what ``load`` does into a non-empty KB and the
  single-process runner does per flush; record building not timed), with
  checkpoints deferred as the runner and ``load`` defer them, the final
  checkpoint counted.

Part 2 (ray): ``ingest --engine ray`` to shards on a local Ray cluster
(2 CPUs) with the offline ``caption-text`` + ``lexical`` backends (CPU-bound,
WordNet), 1 worker vs 2 workers per stage, same images.

Usage: python bench/bench_load.py [--images 20000] [--ray-images 300] [--skip-ray]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_store import synthetic_batch  # noqa: E402

from evokegraph.graph import bulk  # noqa: E402
from evokegraph.graph import shards as S  # noqa: E402
from evokegraph.graph.ladybug_store import LadybugStore  # noqa: E402

SHARD = 2048
ORDER = ["concepts", "images", "elements", "failures", "has_element", "is", "evokes"]


def make_shards(root: Path, images: int, seed: int) -> S.ShardSet:
    import json

    rng = random.Random(seed)
    n = 0
    for k, start in enumerate(range(0, images, SHARD)):
        batch = synthetic_batch(start, min(SHARD, images - start), rng)
        S.write_shard(root, k, batch, {"images": len(batch.images)})
        n += 1
    (root / S.MANIFEST).write_text(json.dumps({"format": S.FORMAT, "shards": n}))
    return S.open_shards(root)


def part_store(args: argparse.Namespace, tmp: Path) -> None:
    shards = make_shards(tmp / "shards", args.images, args.seed)
    tables = bulk.merged_tables(shards)
    rows = sum(tables[s].num_rows for s in ORDER)
    print(
        f"synthetic KB: {args.images} images, {rows:,} rows in all tables, "
        f"{tables['evokes'].num_rows:,} EVOKES, {len(shards.shards)} shards"
    )

    with LadybugStore(tmp / "raw.kb", create=True) as kb:
        t = time.perf_counter()
        kb.bulk_copy([(S.TABLES[s][0], tables[s]) for s in ORDER], {})
        raw = time.perf_counter() - t
    with LadybugStore(tmp / "load.kb", create=True) as kb:
        t = time.perf_counter()
        rep = bulk.load(kb, shards)
        total = time.perf_counter() - t
        assoc = rep.seconds["associations"]
        load = total - assoc
    batches = [S.shard_batch(s) for s in shards.shards]  # records: not timed
    with LadybugStore(tmp / "inc.kb", create=True) as kb:
        t = time.perf_counter()
        kb.defer_checkpoints(30.0)  # as the runner (big flushes) and `load` do
        for b in batches:
            kb.write(b)
        kb.defer_checkpoints(None)  # the final checkpoint is counted
        inc = time.perf_counter() - t
        t = time.perf_counter()
        kb.recompute_associations(None)
        inc_assoc = time.perf_counter() - t
    ev = tables["evokes"].num_rows
    print(f"raw COPY (all tables):         {raw:6.2f} s  {ev / raw:9,.0f} EVOKES/s  100%")
    print(
        f"load into empty KB (no AW):    {load:6.2f} s  {ev / load:9,.0f} EVOKES/s  "
        f"{100 * raw / load:4.0f}% of raw  (read+dedupe {rep.seconds['read']:.2f} s)"
    )
    print(
        f"incremental write (no AW):     {inc:6.2f} s  {ev / inc:9,.0f} EVOKES/s  "
        f"{100 * raw / inc:4.0f}% of raw  ({len(batches)} transactions)"
    )
    print(
        f"ASSOCIATED_WITH rebuild, once: {assoc:6.2f} s after load, {inc_assoc:.2f} s after incremental"
    )


def ray_images(d: Path, n: int, seed: int) -> Path:
    from PIL import Image

    words = [
        "tree",
        "river",
        "dog",
        "bread",
        "coffee",
        "window",
        "mountain",
        "cat",
        "house",
        "sea",
        "sky",
        "road",
        "chair",
        "lamp",
        "book",
        "flower",
        "bird",
        "boat",
        "bridge",
        "cloud",
    ]
    rng = random.Random(seed)
    d.mkdir()
    for i in range(n):
        Image.new("RGB", (16, 16), (i % 256, (i // 256) % 256, 7)).save(d / f"{i:05d}.png")
        w = rng.sample(words, 3)
        (d / f"{i:05d}.txt").write_text(f"a {w[0]} and a {w[1]} by the {w[2]}")
    return d


def part_ray(args: argparse.Namespace, tmp: Path) -> None:
    import ray

    from evokegraph.ingest.ray_engine import RayIngest, RayOptions
    from evokegraph.ingest.runner import IngestConfig

    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    imgs = ray_images(tmp / "imgs", args.ray_images, args.seed)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    cfg = IngestConfig(extractor="caption-text", miner="lexical", batch_size=16)
    rates = {}
    try:
        for workers in (1, 2):
            # each job starts fresh actors: their start (WordNet load) is counted;
            # half a CPU per actor, so that both stages' pools fit on 2 CPUs
            opts = RayOptions(
                shards=tmp / f"s{workers}", workers=workers, cpus_per_worker=0.5, shard_size=64
            )
            job = RayIngest(cfg, opts)
            t = time.perf_counter()
            s = job.run([imgs])
            dt = time.perf_counter() - t
            rates[workers] = s.seen / dt
            print(
                f"ray ingest, {workers} worker(s) per stage: {s.seen} images in {dt:.1f} s "
                f"= {rates[workers]:.1f} images/s (stage s: "
                f"{ {k: round(v, 1) for k, v in s.seconds.items()} })"
            )
    finally:
        ray.shutdown()
    print(
        f"speed-up 2 vs 1 workers: {rates[2] / rates[1]:.2f}x (machine: {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=20_000)
    ap.add_argument("--ray-images", type=int, default=300)
    ap.add_argument("--skip-ray", action="store_true")
    ap.add_argument("--skip-store", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_store:
            part_store(args, Path(tmp))
        if not args.skip_ray:
            part_ray(args, Path(tmp))


if __name__ == "__main__":
    main()
