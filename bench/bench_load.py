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
* raw COPY of the same rows, one shard per transaction (appends), checkpoints
  deferred and the final one counted: the engine alone in the write path's
  transactions, the bound of the next line;
* ``GraphStore.write`` of the same records, one shard per transaction, into
  a fresh KB (the single-process runner's path; record building not timed).

Part 2 (ray): ``ingest --engine ray`` to shards on a local Ray cluster with
the offline ``caption-text`` + ``lexical`` backends (CPU-bound: spaCy,
WordNet), same images: 1 vs 2 workers per stage on all cores, and 1 worker
on 1 core vs 2 workers on 2 cores (the cluster pinned with
``sched_setaffinity``). Reported: the whole job (actor start and model loads
included) and the warm rate (images reaching the driver between the 20% and
the 90% mark), and how long after the actors had their models loaded (each
actor reports it with its first batch) the first image reached the driver.

Each figure line ends with the load average when it was taken: on a shared
machine, figures taken under load are not comparable.

Part 3 (``--rss 20000,100000``): peak RSS of ``load`` (shards into an empty
KB, ASSOCIATED_WITH rebuilt) and of the runner's write path (``GraphStore.write``
of each shard's records, one transaction per shard, then the ASSOCIATED_WITH
rebuild) at each size, each in a fresh child process (its own peak, from
``wait4``); the shards are written first, in a child of their own (so the
measured children do not inherit their making's memory). ``--pool-mib`` caps
LadybugDB's buffer pool in those children (a run that fails says so).

Usage: python bench/bench_load.py [--images 20000] [--repeat 1] [--ray-images 2000]
       [--ray-shard 250] [--ray-batch 128] [--no-ray-pinned] [--skip-store] [--skip-ray]
       [--rss 20000,100000] [--pool-mib 1024]
"""

from __future__ import annotations

import argparse
import multiprocessing
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

    def load(seeded: bool) -> tuple[bulk.LoadReport, float, float, float]:
        return load_apart(fresh(seeded), shards)

    # the same rows as the write path's transactions would copy them (one shard per
    # transaction, concepts first seen in it), read before the clock starts
    per_shard = _shard_parts(shards)

    def raw_appends() -> None:
        with fresh() as kb:
            kb.defer_checkpoints(30.0)
            for part in per_shard:
                kb.bulk_copy([(S.TABLES[s][0], part[s]) for s in ORDER], {})
            kb.defer_checkpoints(None)  # the final checkpoint is counted

    def write() -> None:
        with fresh() as kb:
            kb.defer_checkpoints(30.0)  # as the runner (big flushes) and `load` do
            for b in batches:
                kb.write(b)
            kb.defer_checkpoints(None)  # the final checkpoint is counted

    ev = tables["evokes"].num_rows
    raw, raw_cpu, _ = _timed(raw_copy, args.repeat)

    def line(name: str, wall: float, cpu: float, note: str) -> None:
        print(
            f"{name:<34} {wall:6.2f} s {ev / wall:9,.0f} EVOKES/s {100 * raw / wall:4.0f}% of raw"
            f" | cpu {cpu:5.2f} s {100 * raw_cpu / cpu:4.0f}% of raw's cpu  {note}"
            f"  [{_load_avg()}]",
            flush=True,
        )

    line("raw COPY (all tables), empty KB", raw, raw_cpu, "")
    _load_lines(load, line, args.repeat)
    ra, ra_cpu, _ = _timed(raw_appends, args.repeat)
    line(
        "raw COPY, one tx per shard",
        ra,
        ra_cpu,
        f"(the engine alone in the write path's {len(per_shard)} appending tx: its bound)",
    )
    wr, wr_cpu, _ = _timed(write, args.repeat)
    line("GraphStore.write, one per shard", wr, wr_cpu, f"(the runner's path, {len(batches)} tx)")
    skip_everything(tmp, batches)
    print(
        f"machine: {os.cpu_count()} cores; best of {args.repeat} run(s) each; "
        "the incremental load's KB held 2,048 other images"
    )


def _load_lines(load: Any, line: Any, repeat: int) -> None:
    """``load`` into an empty and a non-empty KB, each a line, the ASSOCIATED_WITH
    rebuild reported apart."""
    for name, seeded in (
        ("load, empty KB (COPY)", False),
        ("load, non-empty KB (idempotent)", True),
    ):
        _, _, (rep, spent, cpu, aw_cpu) = _timed(lambda s=seeded: load(s), repeat)
        assert rep.mode == ("incremental" if seeded else "copy")
        aw = rep.seconds["associations"]
        line(
            name,
            spent,
            cpu,
            f"(AW rebuild apart: {aw:.2f} s = {100 * aw / spent:.0f}% of the load, "
            f"cpu {aw_cpu:.2f} s = {100 * aw_cpu / cpu:.0f}%)",
        )


def _shard_parts(shards: S.ShardSet) -> list[dict[str, Any]]:
    """Each shard's tables, concepts and failures seen in an earlier shard left out
    (what a transaction per shard copies when the images are new)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    seen: dict[str, set[str]] = {"concepts": set(), "failures": set()}
    out = []
    for shard in shards.shards:
        part = {s: pq.read_table(shard / f"{s}.parquet", schema=S.table_schema(s)) for s in ORDER}
        for stem, key in (("concepts", "name"), ("failures", "id")):
            t = S.first_by_key(part[stem], key)
            old = pc.is_in(t[key], pa.array(sorted(seen[stem]), pa.string()))
            part[stem] = t.filter(pc.invert(old))
            seen[stem] |= set(t[key].to_pylist())
        out.append(part)
    return out


def load_apart(kb: LadybugStore, shards: S.ShardSet) -> tuple[bulk.LoadReport, float, float, float]:
    """``shards`` loaded into ``kb`` (closed after): the load's report, wall and CPU
    seconds without the ASSOCIATED_WITH rebuild, and the rebuild's CPU seconds."""
    aw_cpu = []
    rebuild = kb.recompute_associations

    def timed_rebuild(*a: Any) -> int:
        c = time.process_time()
        out = rebuild(*a)
        aw_cpu.append(time.process_time() - c)
        return out

    kb.recompute_associations = timed_rebuild  # type: ignore[method-assign]
    t, c = time.perf_counter(), time.process_time()
    rep = bulk.load(kb, shards)
    spent = time.perf_counter() - t - rep.seconds["associations"]
    cpu = time.process_time() - c - sum(aw_cpu)
    kb.close()
    return rep, spent, cpu, sum(aw_cpu)


def skip_everything(tmp: Path, batches: list[Any]) -> None:
    """A rerun that skips every stored image: the look-up of every image's stored
    record and stage keys, a batch of 2,048 ids at a time as the runner asks, on a
    KB that holds them all; nothing is written (the stats must not move). Timed in
    a fresh process, as a rerun is: this one holds every record of the collection
    (~1.5M objects), whose garbage-collector passes tripled the time."""
    path = tmp / "rerun.kb"
    with LadybugStore(path, create=True) as kb:
        for b in batches:
            kb.write(b)
        kb.recompute_associations()
    ids = [e.image.id for b in batches for e in b.images]
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        wall, cpu = pool.apply(_timed_lookups, (path, ids))
    print(
        f"skip-everything rerun of {len(ids):,} stored images: look-ups {wall:.2f} s "
        f"(cpu {cpu:.2f} s), nothing written  [{_load_avg()}]",
        flush=True,
    )


def _timed_lookups(path: Path, ids: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of the look-ups of :func:`skip_everything`."""
    with LadybugStore(path) as kb:
        before = kb.stats()
        t, c = time.perf_counter(), time.process_time()
        found = 0
        for start in range(0, len(ids), SHARD):
            found += len(kb.image_records(ids[start : start + SHARD]))
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        assert found == len(ids) and kb.stats() == before
    return wall, cpu


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


def _ready_line(ready: dict[str, list[float]], first: float) -> str:
    """When the actors had their models loaded (each stage's, s before the first image
    reached the driver) and the first image's delay after the first actor of every
    stage was ready (a whole pipeline: the issue's "within 5 s") and after the last."""
    if not ready:
        return "actors' model load times: none reported"
    stages = "; ".join(
        f"{step} actors ready {', '.join(f'{first - x:.1f}' for x in sorted(xs))} s before it"
        for step, xs in sorted(ready.items())
    )
    pipeline = max(min(xs) for xs in ready.values())
    last = max(max(xs) for xs in ready.values())
    return (
        f"first image at the driver {first - pipeline:.1f} s after one actor of each stage "
        f"had its models loaded, {first - last:.1f} s after the last actor ({stages})"
    )


def part_ray(args: argparse.Namespace, tmp: Path) -> None:
    import ray

    from evokegraph.ingest.ray_engine import RayIngest, RayOptions
    from evokegraph.ingest.runner import IngestConfig

    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    imgs = ray_images(tmp / "imgs", args.ray_images, args.seed)
    cfg = IngestConfig(extractor="caption-text", miner="lexical", batch_size=args.ray_batch)
    cores = sorted(os.sched_getaffinity(0))
    # (workers per stage, cores the whole Ray cluster may use). Unpinned, one worker
    # per stage already keeps two cores busy (extraction and mining run side by
    # side), so 1 vs 2 workers on 2 cores compares two pipelines on the same cores;
    # pinned, each worker count gets as many cores (the scale-out question)
    runs = [(1, len(cores)), (2, len(cores))] + ([(1, 1), (2, 2)] if args.ray_pinned else [])
    runs = list(dict.fromkeys(runs))
    rates: dict[tuple[int, int], tuple[float, float]] = {}
    for workers, ncores in runs:
        if ncores > len(cores):
            continue
        os.sched_setaffinity(0, cores[:ncores])  # Ray's processes inherit it
        ray.init(num_cpus=ncores, include_dashboard=False, log_to_driver=False)
        try:
            # each job starts fresh actors: their start (spaCy, WordNet loads) is in the
            # wall time; the warm rate leaves the start out
            opts = RayOptions(
                shards=tmp / f"s{workers}-{ncores}",
                workers=workers,
                cpus_per_worker=ncores / (2 * workers),  # both stages' pools fit
                shard_size=args.ray_shard,
            )
            job = RayIngest(cfg, opts)
            t, t_epoch = time.perf_counter(), time.time()
            s = job.run([imgs])
            dt = time.perf_counter() - t
        finally:
            ray.shutdown()
            os.sched_setaffinity(0, cores)
        got = job.arrivals  # the warm rate: images between the 20% and the 90% arrival
        lo, hi = int(0.2 * len(got)), int(0.9 * len(got)) - 1
        warm = (hi - lo) / (got[hi] - got[lo])
        rates[workers, ncores] = (s.seen / dt, warm)
        print(
            f"ray ingest, {workers} worker(s) per stage on {ncores} core(s): {s.seen} images in "
            f"{dt:.1f} s = {s.seen / dt:.1f} images/s; warm (20%..90% of the images): "
            f"{warm:.1f} images/s; first image after {got[0] - t:.1f} s; stage s: "
            f"{ {k: round(v, 1) for k, v in s.seconds.items()} }  [{_load_avg()}]",
            flush=True,
        )
        print("  " + _ready_line(s.ready, got[0] - t + t_epoch), flush=True)
    for ncores in sorted({c for _, c in rates}):
        if (1, ncores) in rates and (2, ncores) in rates:
            a, b = rates[1, ncores], rates[2, ncores]
            print(
                f"2 vs 1 workers per stage, both on {ncores} core(s): {b[0] / a[0]:.2f}x whole "
                f"job, {b[1] / a[1]:.2f}x warm"
            )
    if (1, 1) in rates and (2, 2) in rates:
        a, b = rates[1, 1], rates[2, 2]
        print(
            f"2 workers on 2 cores vs 1 worker on 1 core: {b[0] / a[0]:.2f}x whole job, "
            f"{b[1] / a[1]:.2f}x warm"
        )
    print(f"machine: {os.cpu_count()} cores, {_load_avg()}")


def _child_peak_mib(fn: Any, pool_mib: int = 0) -> tuple[float, float, str]:
    """Run ``fn`` in a forked child (its LadybugDB buffer pool capped at ``pool_mib``
    MiB when given; the engine's default is a share of the machine's memory); (its
    peak RSS in MiB, wall seconds, "" or the first line of the error it failed with)."""
    t = time.perf_counter()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(r)
        code = 0
        try:
            if pool_mib:
                import ladybug

                class Capped(ladybug.Database):
                    def __init__(self, *a: Any, **k: Any) -> None:
                        super().__init__(*a, **{**k, "buffer_pool_size": pool_mib * 2**20})

                ladybug.Database = Capped  # type: ignore[misc]
            fn()
        except BaseException as exc:  # noqa: BLE001 - report and exit non-zero
            os.write(w, (str(exc).splitlines() or [type(exc).__name__])[-1].encode()[:300])
            code = 1
        os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        err = f.read().decode(errors="replace")
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 and not err:
        err = "failed"
    return usage.ru_maxrss / 1024, time.perf_counter() - t, err


def part_rss(args: argparse.Namespace, tmp: Path) -> None:
    for n in [int(x) for x in args.rss.split(",")]:
        # made in a child of their own: the records and tables of 100k images left
        # ~145 MiB in this process, which every measured child inherited (counted
        # in its RSS) at 100k images and less at 20k
        _, _, err = _child_peak_mib(lambda n=n: make_shards(tmp / f"rss{n}", n, args.seed))
        if err:
            raise SystemExit(f"making the {n}-image shards failed: {err}")
        shards = S.open_shards(tmp / f"rss{n}")

        def load(n: int = n, shards: S.ShardSet = shards) -> None:
            with LadybugStore(tmp / f"load{n}.kb", create=True) as kb:
                bulk.load(kb, shards)

        def write(n: int = n, shards: S.ShardSet = shards) -> None:
            with LadybugStore(tmp / f"write{n}.kb", create=True) as kb:
                kb.defer_checkpoints(30.0)
                for shard in shards.shards:
                    kb.write(S.shard_batch(shard))
                kb.defer_checkpoints(None)
                kb.recompute_associations()

        for name, fn in (("load", load), ("write path (runner)", write)):
            peak, wall, err = _child_peak_mib(fn, args.pool_mib)
            pool = f", buffer pool {args.pool_mib} MiB" if args.pool_mib else ""
            print(
                f"peak RSS, {name:<20} {n:>7} images{pool}: {peak:8,.0f} MiB  ({wall:.0f} s)"
                + (f"  FAILED: {err}" if err else "")
                + f"  [{_load_avg()}]",
                flush=True,
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=20_000)
    ap.add_argument("--ray-images", type=int, default=2000)
    ap.add_argument("--ray-shard", type=int, default=250, help="source items per shard")
    ap.add_argument("--ray-batch", type=int, default=128, help="images per model batch")
    ap.add_argument(
        "--ray-pinned",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also 1 worker on 1 core vs 2 on 2 cores",
    )
    ap.add_argument("--skip-ray", action="store_true")
    ap.add_argument("--skip-store", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1, help="runs per figure; the best is shown")
    ap.add_argument(
        "--rss", default="", help="sizes (images) to measure peak RSS at, e.g. 20000,100000"
    )
    ap.add_argument(
        "--pool-mib",
        type=int,
        default=0,
        help="with --rss: cap LadybugDB's buffer pool in the measured children (MiB)",
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_store:
            part_store(args, Path(tmp))
        if not args.skip_ray:
            part_ray(args, Path(tmp))
        if args.rss:
            part_rss(args, Path(tmp))


if __name__ == "__main__":
    main()
