"""Store benchmark: bulk vs naive writes, peak memory, context latency.

Builds a synthetic knowledge base (default 100k images, 5 elements each =
500k elements, one association per element and distance = 2.5M EVOKES edges)
through ``GraphStore.write`` and reports, in one run:

* edges/s through the bulk path (``write`` of ready records: plan + Arrow +
  ``COPY FROM`` in one transaction per batch; record construction is not
  timed, the pipeline builds records anyway);
* edges/s through a naive writer that sends one ``MERGE`` statement per edge,
  each in its own transaction (the way several knowledge-graph builders
  write), measured on a sample of edges in a fresh database;
* their ratio, the peak RSS, and ``context(image, depth=5)`` latency p50/p99
  over 1,000 random images (after ``recompute_associations``).

Usage: python bench/bench_store.py [--images 100000] [--batch 5000] [--db PATH]
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path

from evokegraph.graph.ladybug_store import LadybugStore
from evokegraph.records import Element, Evocation, GraphBatch, ImageEntry, ImageRecord

ELEMENTS_PER_IMAGE = 5
VOCAB = 20_000


def synthetic_batch(start: int, n: int, rng: random.Random) -> GraphBatch:
    entries = []
    for i in range(start, start + n):
        els = rng.sample(range(VOCAB), ELEMENTS_PER_IMAGE)
        elements = [Element(name=f"w{e}", concept=f"w{e}", rank=r) for r, e in enumerate(els)]
        evocations = [
            Evocation(
                element=f"w{e}", concept=f"w{rng.randrange(VOCAB)}", distance=d, weight=rng.random()
            )
            for e in els
            for d in range(1, 6)
        ]
        entries.append(
            ImageEntry(
                image=ImageRecord(id=f"{i:064x}", uris=[f"img/{i}.jpg"]),
                elements=elements,
                evocations=evocations,
                stage_keys={"elements": "bench", "associations": "bench"},
            )
        )
    return GraphBatch(images=entries)


def bulk(kb: LadybugStore, images: int, batch: int, seed: int) -> tuple[int, float]:
    rng = random.Random(seed)
    edges = 0
    spent = 0.0
    for start in range(0, images, batch):
        b = synthetic_batch(start, min(batch, images - start), rng)
        t = time.perf_counter()
        counts = kb.write(b)
        dt = time.perf_counter() - t
        spent += dt
        edges += counts["evokes"]
        print(f"  batch at {start}: {counts['evokes']} edges in {dt:.2f} s", flush=True)
    return edges, spent


NAIVE_EDGE = (
    "MERGE (e:Element {id: $e}) MERGE (c:Concept {name: $c}) "
    "MERGE (e)-[v:EVOKES {distance: $d}]->(c) SET v.weight = $w"
)


def naive(path: Path, n_edges: int, seed: int) -> float:
    rng = random.Random(seed)
    with LadybugStore(path, create=True) as kb:
        t = time.perf_counter()
        for i in range(n_edges):
            kb._run("BEGIN TRANSACTION")
            kb._run(
                NAIVE_EDGE,
                {
                    "e": f"e{i // 5}",
                    "c": f"w{rng.randrange(VOCAB)}",
                    "d": i % 5 + 1,
                    "w": rng.random(),
                },
            )
            kb._run("COMMIT")
        return n_edges / (time.perf_counter() - t)


def latency(kb: LadybugStore, images: int, n: int, depth: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        image_id = f"{rng.randrange(images):064x}"
        t = time.perf_counter()
        kb.context(image_id, depth)
        out.append((time.perf_counter() - t) * 1000)
    return sorted(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=5000, help="images per write batch")
    ap.add_argument("--naive-edges", type=int, default=3000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--db", type=Path, default=None, help="where to build (default: a temp dir)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "bench.kb"
        with LadybugStore(path, create=True) as kb:
            edges, spent = bulk(kb, args.images, args.batch, args.seed)
            t = time.perf_counter()
            n_assoc = kb.recompute_associations()
            t_assoc = time.perf_counter() - t
            s = kb.stats()
            lat5 = latency(kb, args.images, args.queries, 5, args.seed)
            lat7 = latency(kb, args.images, args.queries, 7, args.seed)
        naive_rate = naive(Path(tmp) / "naive.kb", args.naive_edges, args.seed)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    bulk_rate = edges / spent
    print(f"images={s.images} elements={s.elements} concepts={s.concepts} evokes={s.evokes}")
    print(
        f"bulk write: {edges} edges in {spent:.2f} s = {bulk_rate:,.0f} edges/s (batch {args.batch} images)"
    )
    print(f"naive one-MERGE-per-transaction: {naive_rate:,.0f} edges/s ({args.naive_edges} edges)")
    print(f"ratio bulk/naive: {bulk_rate / naive_rate:,.0f}x")
    print(f"recompute ASSOCIATED_WITH: {n_assoc} edges in {t_assoc:.2f} s")
    for name, lat in (("context depth=5", lat5), ("context depth=7", lat7)):
        p50 = statistics.median(lat)
        p99 = lat[int(0.99 * (len(lat) - 1))]
        print(f"{name}: p50 {p50:.3f} ms, p99 {p99:.3f} ms over {len(lat)} images")
    print(f"peak RSS: {peak_mb:,.0f} MiB")


if __name__ == "__main__":
    main()
