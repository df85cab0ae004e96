"""Explorer benchmark: page latency of `evokegraph serve`, thumbnail rate.

Builds the synthetic knowledge base of bench_store.py (default 100k images,
2.5M EVOKES edges, ASSOCIATED_WITH recomputed), opens it read-only in the
web app and requests random image pages and concept pages (full HTML:
store reads, graph drawing data, Jinja2 rendering) through FastAPI's
in-process test client, so the figure is server time without a network hop.
Then makes ``--thumbs`` thumbnails from 1024x768 JPEGs with the app's cache.

``--db PATH`` keeps the built knowledge base there and reuses it on the next
run. Each figure line ends with the load average.

Usage: python bench/bench_serve.py [--images 100000] [--reps 200] [--thumbs 300] [--db PATH]
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
from bench_store import synthetic_batch  # noqa: E402

from evokegraph.graph import network_index  # noqa: E402
from evokegraph.graph.ladybug_store import LadybugStore  # noqa: E402
from evokegraph.graph.store import StoreConfig  # noqa: E402


def _load_avg() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def build(db: Path, images: int, rng: random.Random) -> list[str]:
    if db.exists():
        with LadybugStore(db, read_only=True) as kb:
            if kb.stats().images != images:
                raise SystemExit(f"{db} does not hold {images} images; pass another --db")
            print(f"reusing {db} ({images} images)", flush=True)
            return [r["n"] for r in kb.query("MATCH (c:Concept) RETURN c.name AS n ORDER BY n")]
    t = time.perf_counter()
    with LadybugStore(db, create=True) as kb:
        for start in range(0, images, 10_000):
            kb.write(synthetic_batch(start, min(10_000, images - start), rng))
        kb.recompute_associations()
        s = kb.stats()
        names = [r["n"] for r in kb.query("MATCH (c:Concept) RETURN c.name AS n ORDER BY n")]
    print(
        f"built {s.images} images, {s.evokes} EVOKES, {s.associated_with} ASSOCIATED_WITH "
        f"in {time.perf_counter() - t:.0f} s",
        flush=True,
    )
    return names


def latency(client: object, urls: list[str]) -> tuple[float, float, float]:
    times = []
    for url in urls:
        t = time.perf_counter()
        r = client.get(url)  # type: ignore[attr-defined]
        times.append(1000 * (time.perf_counter() - t))
        assert r.status_code == 200, (url, r.status_code, r.text[:200])
    times.sort()
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
    return statistics.median(times), p95, times[-1]


def pages(
    db: Path, images: int, names: list[str], reps: int, rng: random.Random, only: str = ""
) -> None:
    from fastapi.testclient import TestClient

    from evokegraph.queries.web.app import create_app

    app = create_app(StoreConfig(path=str(db)), thumbs_dir=db.parent / "thumbs")
    with TestClient(app) as client:
        t = time.perf_counter()
        client.get("/images")  # warm up (the first grid page also sorts every image id)
        print(f"  first request (/images) {1000 * (time.perf_counter() - t):7.1f} ms", flush=True)
        kinds = {
            "image page": [f"/image/{rng.randrange(images):064x}" for _ in range(reps)],
            "rings view": [f"/image/{rng.randrange(images):064x}/rings" for _ in range(reps)],
            "concept page": [f"/concept/{rng.choice(names)}" for _ in range(reps)],
            "image JSON": [f"/api/images/{rng.randrange(images):064x}" for _ in range(reps)],
            "concept JSON": [f"/api/concepts/{rng.choice(names)}" for _ in range(reps)],
            "grid page (48, unfiltered)": [
                f"/images?page={rng.randrange(1, images // 48)}" for _ in range(reps // 4)
            ],
            "grid page (concept filter)": [
                f"/images?concept={rng.choice(names)}" for _ in range(reps // 4)
            ],
            "graph page (concept, 2 hops)": [
                f"/graph?concept={rng.choice(names)}" for _ in range(reps // 4)
            ],
        }
        for name, urls in kinds.items():
            if only and not any(w in name for w in only.split(",")):
                continue
            report(name, latency(client, urls), len(urls))
        if only and "network" not in only:
            return
        # what a server switches to once it has read enough of the shared
        # network by query (graph/network_index.py): load it now, time again
        with LadybugStore(db, read_only=True) as kb:
            loaded = network_index.network(kb, 0) is not None
            t = time.perf_counter()
            network_index.network(kb, 10**12)
            print(
                f"  shared network {'already in memory' if loaded else 'loaded'} "
                f"({time.perf_counter() - t:.2f} s)  [{_load_avg()}]",
                flush=True,
            )
            name = "graph page (network in memory)"
            urls = [f"/graph?concept={rng.choice(names)}" for _ in range(reps // 4)]
            report(name, latency(client, urls), len(urls))


def report(name: str, times: tuple[float, float, float], n: int) -> None:
    p50, p95, worst = times
    print(
        f"  {name:<30} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   max {worst:7.1f} ms"
        f"   ({n} requests)  [{_load_avg()}]",
        flush=True,
    )


def thumbs(folder: Path, n: int) -> None:
    import numpy as np
    from PIL import Image

    from evokegraph.queries.web.thumbs import ThumbCache

    src = folder / "src"
    src.mkdir()
    noise = np.random.default_rng(0)
    for i in range(n):
        arr = noise.integers(0, 255, (768, 1024, 3), dtype=np.uint8)
        Image.fromarray(arr).save(src / f"{i}.jpg", quality=90)
    cache = ThumbCache(folder / "thumbs")
    t = time.perf_counter()
    for i in range(n):
        assert cache.get(f"{i:064x}", [str(src / f"{i}.jpg")]) is not None
    dt = time.perf_counter() - t
    t = time.perf_counter()
    for i in range(n):
        cache.get(f"{i:064x}", [str(src / f"{i}.jpg")])
    cached = time.perf_counter() - t
    print(
        f"thumbnails: {n} from 1024x768 JPEGs in {dt:.2f} s = {n / dt:.0f}/s "
        f"(cached look-ups: {1e6 * cached / n:.0f} us each)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--thumbs", type=int, default=300)
    ap.add_argument("--db", type=Path, default=None, help="build here and keep (reused if present)")
    ap.add_argument(
        "--only", default="", help="comma-separated words: time only pages whose name has one"
    )
    args = ap.parse_args()
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "serve.kb"
        names = build(db, args.images, rng)
        pages(db, args.images, names, args.reps, rng, args.only)
        if args.thumbs:
            thumbs(Path(tmp), args.thumbs)


if __name__ == "__main__":
    main()
