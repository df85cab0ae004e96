"""Query benchmark: latency of each named query and time to render a view.

Builds a synthetic knowledge base (default 100k images / 2.5M EVOKES edges,
as bench_store.py), recomputes ASSOCIATED_WITH, then runs every named query
``--reps`` times with random parameters and prints p50/p99, and times a
300-node concept view (networkx + pyvis, offline page).

Usage: python bench/bench_queries.py [--images 100000] [--reps 20]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_store import VOCAB, synthetic_batch  # noqa: E402

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--global-reps", type=int, default=3, help="reps for whole-graph aggregations")
    args = ap.parse_args()
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp, LadybugStore(Path(tmp) / "q.kb", create=True) as kb:
        t = time.perf_counter()
        for start in range(0, args.images, 10_000):
            kb.write(synthetic_batch(start, min(10_000, args.images - start), rng))
        kb.recompute_associations()
        s = kb.stats()
        print(
            f"built {s.images} images, {s.evokes} EVOKES, {s.associated_with} ASSOCIATED_WITH "
            f"in {time.perf_counter() - t:.0f} s"
        )
        for name in catalogue():
            reps = (
                args.global_reps
                if name in ("context_dependent", "cooccurrence", "top_concepts")
                else args.reps
            )
            times = []
            for _ in range(reps):
                p = params_for(name, rng, args.images)
                t = time.perf_counter()
                run(kb, name, p)
                times.append(1000 * (time.perf_counter() - t))
            times.sort()
            p99 = times[min(len(times) - 1, int(0.99 * len(times)))]
            print(
                f"  {name:<20} p50 {statistics.median(times):9.1f} ms   p99 {p99:9.1f} ms   ({reps} runs)"
            )
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
