"""Query benchmark: latency of each named query and time to render a view.

Builds a synthetic knowledge base (default 100k images / 2.5M EVOKES edges,
as bench_store.py), recomputes ASSOCIATED_WITH, then runs every named query
``--reps`` times with random parameters and prints p50/p99, and times a
300-node concept view (networkx + pyvis, offline page).

``--db PATH`` keeps the built knowledge base there and reuses it on the next
run (build once, measure often). Each figure line ends with the load average.

Usage: python bench/bench_queries.py [--images 100000] [--reps 20] [--db PATH]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_store import VOCAB, synthetic_batch  # noqa: E402

from evokegraph.graph import network_index  # noqa: E402
from evokegraph.graph.ladybug_store import LadybugStore  # noqa: E402
from evokegraph.queries import analytics, viz  # noqa: E402
from evokegraph.queries.library import catalogue, run  # noqa: E402


def params_for(name: str, rng: random.Random, n_images: int) -> dict[str, object]:
    img = lambda: f"{rng.randrange(n_images):064x}"  # noqa: E731
    word = lambda: f"w{rng.randrange(VOCAB)}"  # noqa: E731
    return {
        "evokes": lambda: {"concept": word()},
        "images_evoking": lambda: {"concept": word()},
        "ladder": lambda: {"image": img(), "element": word()},
        "path": lambda: {"source": word(), "target": word()},
        "shared": lambda: {"a": img(), "b": img()},
        "creative_neighbours": lambda: {"image": img()},
        "context_dependent": lambda: {},
        "cooccurrence": lambda: {},
        "top_concepts": lambda: {},
    }[name]()


def _load_avg() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def build(db: Path, images: int, rng: random.Random) -> None:
    """The synthetic KB at ``db`` (kept when it holds ``images`` images already)."""
    if db.exists():
        with LadybugStore(db, read_only=True) as kb:
            if kb.stats().images == images:
                print(f"reusing {db} ({images} images)", flush=True)
                return
        raise SystemExit(f"{db} exists and does not hold {images} images; pass another --db")
    t = time.perf_counter()
    with LadybugStore(db, create=True) as kb:
        for start in range(0, images, 10_000):
            kb.write(synthetic_batch(start, min(10_000, images - start), rng))
        t_aw = time.perf_counter()
        kb.recompute_associations()
        t_aw = time.perf_counter() - t_aw
        s = kb.stats()
    print(
        f"built {s.images} images, {s.evokes} EVOKES, {s.associated_with} ASSOCIATED_WITH "
        f"in {time.perf_counter() - t:.0f} s (ASSOCIATED_WITH rebuild {t_aw:.1f} s)  [{_load_avg()}]",
        flush=True,
    )


def timed(fn: object, reps: int) -> tuple[float, float]:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(1000 * (time.perf_counter() - t))
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.99 * len(times)))]


def network_in_memory(kb: LadybugStore, images: int, reps: int, rng: random.Random) -> None:
    """Depth 6-7 contexts once the shared network is in memory (what a process
    that has read enough of it by query switches to: graph/network_index.py)."""
    loaded = network_index.network(kb, 0) is not None
    t = time.perf_counter()
    network_index.network(kb, 10**12)  # whatever was read so far: load it now
    print(
        f"  shared network {'already in memory' if loaded else 'loaded'} "
        f"({time.perf_counter() - t:.2f} s)  [{_load_avg()}]",
        flush=True,
    )
    img = lambda: f"{rng.randrange(images):064x}"  # noqa: E731
    for depth in (6, 7):
        p50, p99 = timed(lambda d=depth: kb.context(img(), d), reps)
        print(
            f"  context depth {depth} (network in memory) p50 {p50:7.1f} ms   p99 {p99:7.1f} ms"
            f"   ({reps} runs)  [{_load_avg()}]",
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--global-reps", type=int, default=3, help="reps for whole-graph aggregations")
    ap.add_argument("--db", type=Path, default=None, help="build here and keep (reused if present)")
    ap.add_argument(
        "--views", action=argparse.BooleanOptionalAction, default=True,
        help="also load the whole concept network into networkx and render a view",
    )  # fmt: skip
    ap.add_argument(
        "--only", default="",
        help="comma-separated query names (and context5/6/7) to time; default all",
    )  # fmt: skip
    args = ap.parse_args()
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "q.kb"
        build(db, args.images, rng)
        kb = LadybugStore(db, read_only=True)
        only = {x for x in args.only.split(",") if x}
        for name, q in catalogue().items():
            if only and name not in only:
                continue
            reps = args.global_reps if q.whole_graph else args.reps
            p50, p99 = timed(lambda n=name: run(kb, n, params_for(n, rng, args.images)), reps)
            print(
                f"  {name:<20} p50 {p50:9.1f} ms   p99 {p99:9.1f} ms   ({reps} runs)  [{_load_avg()}]",
                flush=True,
            )
        img = lambda: f"{rng.randrange(args.images):064x}"  # noqa: E731
        for depth in (5, 6, 7):
            if only and f"context{depth}" not in only:
                continue
            p50, p99 = timed(lambda d=depth: kb.context(img(), d), args.reps)
            print(
                f"  context depth {depth:<6} p50 {p50:9.1f} ms   p99 {p99:9.1f} ms   ({args.reps} runs)  [{_load_avg()}]",
                flush=True,
            )
        if not only or "network" in only:
            network_in_memory(kb, args.images, args.reps, rng)
        if not args.views:
            return
        t = time.perf_counter()
        g = analytics.concept_graph(kb)
        t_graph = time.perf_counter() - t
        hub = max(g.degree, key=lambda nd: nd[1])[0]
        ego = analytics.ego_graph(g, hub, 2)
        t = time.perf_counter()
        _, n = viz.render(ego, Path(tmp) / "v.html", title="bench", max_nodes=300, keep={hub})
        print(
            f"concept graph to networkx: {t_graph:.1f} s ({g.number_of_nodes()} nodes, {g.number_of_edges()} edges)"
        )
        print(
            f"render a {n}-node view (ego graph of {ego.number_of_nodes()} capped to 300): {time.perf_counter() - t:.2f} s"
        )


if __name__ == "__main__":
    main()
