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
       python bench/bench_store.py --backend neo4j [--neo4j-uri URI ...]

``--backend neo4j`` without ``--neo4j-uri`` starts a local Bolt server
(ArcadeDB from the ``server`` extra) in a temp dir and stops it at the end;
with a URI it writes into that server's database, which it wipes first.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from evokegraph.graph.ladybug_store import LadybugStore
from evokegraph.graph.store import GraphStore
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


def bulk(kb: GraphStore, images: int, batch: int, seed: int) -> tuple[int, float]:
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


def naive_neo4j(kb: GraphStore, n_edges: int, seed: int) -> float:
    """One MERGE per edge, each its own auto-commit transaction, after a wipe."""
    rng = random.Random(seed)
    kb.wipe()  # type: ignore[attr-defined]
    kb.ensure_schema()
    driver = kb._driver  # type: ignore[attr-defined]
    t = time.perf_counter()
    for i in range(n_edges):
        driver.execute_query(
            NAIVE_EDGE,
            {"e": f"e{i // 5}", "c": f"w{rng.randrange(VOCAB)}", "d": i % 5 + 1, "w": rng.random()},
            database_=kb.database,  # type: ignore[attr-defined]
        )
    return n_edges / (time.perf_counter() - t)


def open_bench_store(args: argparse.Namespace, path: Path, stack: ExitStack) -> GraphStore:
    if args.backend == "ladybug":
        return stack.enter_context(LadybugStore(path, create=True))
    from evokegraph.graph import server
    from evokegraph.graph.neo4j_store import Neo4jStore

    uri, user, password = args.neo4j_uri, args.neo4j_user, args.neo4j_password
    if not uri:
        root = path.parent / "bolt-server"
        info = server.start(root, bolt_port=0, http_port=0, heap=args.heap)
        stack.callback(server.stop, root)
        uri, user, password = info.uri, info.user, info.password
        print(f"started a local Bolt server: {info.uri} (heap {args.heap})", flush=True)
    kb = stack.enter_context(
        Neo4jStore.connect(uri, user, password, batch_size=args.write_batch, create=True)
    )
    kb.wipe()
    kb.ensure_schema()
    print(f"server: {kb.server_agent}", flush=True)
    return kb


def latency(kb: GraphStore, images: int, n: int, depth: int, seed: int) -> list[float]:
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
    ap.add_argument("--backend", choices=["ladybug", "neo4j"], default="ladybug")
    ap.add_argument("--neo4j-uri", default="", help="default: start a local Bolt server")
    ap.add_argument("--neo4j-user", default="neo4j")
    ap.add_argument("--neo4j-password", default="")
    ap.add_argument("--write-batch", type=int, default=5000, help="rows per UNWIND (neo4j)")
    ap.add_argument("--heap", default="2g", help="Java heap of the local Bolt server")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        path = args.db or Path(tmp) / "bench.kb"
        kb = open_bench_store(args, path, stack)
        edges, spent = bulk(kb, args.images, args.batch, args.seed)
        t = time.perf_counter()
        n_assoc = kb.recompute_associations()
        t_assoc = time.perf_counter() - t
        s = kb.stats()
        lat5 = latency(kb, args.images, args.queries, 5, args.seed)
        lat7 = latency(kb, args.images, args.queries, 7, args.seed)
        if args.backend == "ladybug":
            naive_rate = naive(Path(tmp) / "naive.kb", args.naive_edges, args.seed)
        else:
            naive_rate = naive_neo4j(kb, args.naive_edges, args.seed)
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
    print(f"peak RSS (this Python process; a server's own memory not included): {peak_mb:,.0f} MiB")


if __name__ == "__main__":
    main()
