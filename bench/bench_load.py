"""Bulk-load benchmark: raw COPY vs ``evokegraph load`` vs the incremental path,
and Ray Data ingest throughput with 1 vs 2 workers.

Part 1 (store), in one run on one synthetic KB (default 20k images x 5
elements, one association per element and distance: 500k EVOKES, 200k
HAS_ELEMENT + IS, ~120k nodes), written as Parquet shards of 2,048 images:

* raw COPY: one ``COPY`` per table of the already merged Arrow tables into an
  empty KB, one transaction (the engine's speed; nothing else timed);
* ``load`` into an empty KB: read the shard files, deduplicate, check, COPY
  (what ``evokegraph load`` does; ASSOCIATED_WITH reported apart);
* ``load`` into a non-empty KB (2,048 other images stored): the idempotent
  path (a look-up of the image ids, then the planned rows copied as they are
  for new images, ``GraphStore.write`` of records otherwise), checkpoints
  deferred, the final checkpoint counted;
* ``GraphStore.write`` of the same records, one shard per transaction, into
  a fresh KB (the single-process runner's path; record building not timed).

Part 2 (ray): ``ingest --engine ray`` to shards on a local Ray cluster
(this machine's cores) with the offline ``caption-text`` + ``lexical``
backends (CPU-bound: spaCy, WordNet), 1 worker vs 2 workers per stage, same
images; the whole job (actor start and model loads included) and the warm
rate (between the first and the last shard written).

Each figure line ends with the load average when it was taken: on a shared
machine, figures taken under load are not comparable.

Usage: python bench/bench_load.py [--images 20000] [--repeat 1] [--ray-images 2000]
       [--ray-shard 100] [--skip-store] [--skip-ray]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from bench_store import synthetic_batch  # noqa: E402

from evokegraph.graph import bulk  # noqa: E402
from evokegraph.graph import shards as S  # noqa: E402
from evokegraph.graph.ladybug_store import LadybugStore  # noqa: E402

SHARD = 2048
ORDER = ["concepts", "images", "elements", "failures", "has_element", "is", "evokes"]


def make_shards(root: Path, images: int, seed: int, start: int = 0) -> S.ShardSet:
    import json

    rng = random.Random(seed)
    n = 0
    for k, first in enumerate(range(start, start + images, SHARD)):
        batch = synthetic_batch(first, min(SHARD, start + images - first), rng)
        S.write_shard(root, k, batch, {"images": len(batch.images)})
        n += 1
    (root / S.MANIFEST).write_text(json.dumps({"format": S.FORMAT, "shards": n}))
    return S.open_shards(root)


def _load_avg() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def _timed(fn: Any, repeat: int) -> tuple[float, float, Any]:
    """Best wall-clock seconds of ``repeat`` runs, that run's CPU seconds (every
    thread of this process) and result."""
    best: tuple[float, float, Any] | None = None
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        got = (time.perf_counter() - w, time.process_time() - c, out)
        best = got if best is None or got[0] < best[0] else best
    assert best is not None
    return best


def part_store(args: argparse.Namespace, tmp: Path) -> None:
    shards = make_shards(tmp / "shards", args.images, args.seed)
    tables = bulk.merged_tables(shards)
    rows = sum(tables[s].num_rows for s in ORDER)
    print(
        f"synthetic KB: {args.images} images, {rows:,} rows in all tables, "
        f"{tables['evokes'].num_rows:,} EVOKES, {len(shards.shards)} shards; {_load_avg()}"
    )
    # a KB holding other images already (the incremental path's case): 2,048
    # more synthetic images (ids after the bench's), concepts shared
    seed_tables = bulk.merged_tables(
        make_shards(tmp / "seed", SHARD, args.seed + 1, start=args.images)
    )
    batches = [S.shard_batch(s) for s in shards.shards]  # records: not timed
    n = iter(range(10**6))

    def fresh(seeded: bool = False) -> LadybugStore:
        path = tmp / f"kb{next(n)}.kb"
        if seeded:
            with LadybugStore(path, create=True) as kb:
                kb.bulk_copy([(S.TABLES[s][0], seed_tables[s]) for s in ORDER], {})
        return LadybugStore(path, create=not seeded)

    def raw_copy() -> None:
        with fresh() as kb:
            kb.bulk_copy([(S.TABLES[s][0], tables[s]) for s in ORDER], {})

    def load(seeded: bool) -> tuple[bulk.LoadReport, float]:
        kb = fresh(seeded)
        t = time.perf_counter()
        rep = bulk.load(kb, shards)
        spent = time.perf_counter() - t - rep.seconds["associations"]
        kb.close()
        return rep, spent

    def write() -> None:
        with fresh() as kb:
            kb.defer_checkpoints(30.0)  # as the runner (big flushes) and `load` do
            for b in batches:
                kb.write(b)
            kb.defer_checkpoints(None)  # the final checkpoint is counted

    ev = tables["evokes"].num_rows
    raw, raw_cpu, _ = _timed(raw_copy, args.repeat)
    print(
        f"raw COPY (all tables), empty KB:  {raw:6.2f} s (cpu {raw_cpu:5.2f} s)  "
        f"{ev / raw:9,.0f} EVOKES/s  100%  [{_load_avg()}]",
        flush=True,
    )
    # load: the time without the ASSOCIATED_WITH rebuild (reported apart)
    for name, seeded in (("into an empty KB (COPY)", False), ("into a non-empty KB (incr.)", True)):
        _, cpu, (rep, spent) = _timed(lambda s=seeded: load(s), args.repeat)
        assert rep.mode == ("incremental" if seeded else "copy")
        print(
            f"load {name}: {spent:6.2f} s (cpu {cpu:5.2f} s incl. AW)  {ev / spent:9,.0f} "
            f"EVOKES/s {100 * raw / spent:4.0f}% of raw  (AW rebuild {rep.seconds['associations']:.2f} s "
            f"apart)  [{_load_avg()}]",
            flush=True,
        )
    wr, wr_cpu, _ = _timed(write, args.repeat)
    print(
        f"GraphStore.write, one per shard:  {wr:6.2f} s (cpu {wr_cpu:5.2f} s)  {ev / wr:9,.0f} "
        f"EVOKES/s {100 * raw / wr:4.0f}% of raw  (records -> rows -> Arrow, {len(batches)} "
        f"transactions: the runner's path)  [{_load_avg()}]",
        flush=True,
    )
    print(
        f"machine: {os.cpu_count()} cores; best of {args.repeat} run(s) each; "
        "the incremental load's KB held 2,048 other images"
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
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    cfg = IngestConfig(extractor="caption-text", miner="lexical", batch_size=16)
    rates: dict[int, tuple[float, float]] = {}
    try:
        for workers in (1, 2):
            # each job starts fresh actors: their start (spaCy, WordNet loads) is in the
            # wall time; the warm rate is taken between the first and the last shard written
            opts = RayOptions(
                shards=tmp / f"s{workers}",
                workers=workers,
                cpus_per_worker=os.cpu_count() / 4,  # both stages' pools fit at 2 workers
                shard_size=args.ray_shard,
            )
            job = RayIngest(cfg, opts)
            print(f"  ray, {workers} worker(s) per stage: start; {_load_avg()}", flush=True)
            t = time.perf_counter()
            s = job.run([imgs])
            dt = time.perf_counter() - t
            (t0, _), (t1, _) = job.finished[0], job.finished[-1]
            warm = sum(n for _, n in job.finished[1:]) / (t1 - t0)
            rates[workers] = (s.seen / dt, warm)
            print(
                f"ray ingest, {workers} worker(s) per stage: {s.seen} images in {dt:.1f} s "
                f"= {s.seen / dt:.1f} images/s; warm (shards 2..{len(job.finished)}): "
                f"{warm:.1f} images/s; first shard after {t0 - t:.1f} s; stage s: "
                f"{ {k: round(v, 1) for k, v in s.seconds.items()} }  [{_load_avg()}]",
                flush=True,
            )
    finally:
        ray.shutdown()
    print(
        f"speed-up 2 vs 1 workers: {rates[2][0] / rates[1][0]:.2f}x whole job, "
        f"{rates[2][1] / rates[1][1]:.2f}x warm (machine: {os.cpu_count()} cores, {_load_avg()})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=20_000)
    ap.add_argument("--ray-images", type=int, default=2000)
    ap.add_argument("--ray-shard", type=int, default=100, help="source items per shard")
    ap.add_argument("--skip-ray", action="store_true")
    ap.add_argument("--skip-store", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1, help="runs per figure; the best is shown")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_store:
            part_store(args, Path(tmp))
        if not args.skip_ray:
            part_ray(args, Path(tmp))


if __name__ == "__main__":
    main()
