"""Explorer pages on both backends: LadybugDB and a live Bolt server (ArcadeDB).

Builds bench_store.py's synthetic knowledge base (default 2,000 images, 5
elements each, one association per element and distance; ASSOCIATED_WITH
recomputed) twice from the same seed: once in an embedded LadybugDB file, once
through the Neo4j backend into an ArcadeDB Bolt server this script starts (the
``server`` extra; stopped at the end). Then requests the same random image
pages, rings views, concept pages and grid pages through FastAPI's in-process
test client on each, so the figures are server time without a network hop
(for the Bolt server, every store read is a Bolt round trip on 127.0.0.1).
Each figure line ends with the load average.

Usage: python bench/bench_serve_bolt.py [--images 2000] [--reps 100] [--heap 1g]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_serve import _load_avg, latency  # noqa: E402
from bench_store import synthetic_batch  # noqa: E402

from evokegraph.graph.store import GraphStore, StoreConfig, open_store  # noqa: E402

BATCH = 500


def fill(kb: GraphStore, images: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    t = time.perf_counter()
    for start in range(0, images, BATCH):
        kb.write(synthetic_batch(start, min(BATCH, images - start), rng))
    kb.recompute_associations()
    names = [r["n"] for r in kb.query("MATCH (c:Concept) RETURN c.name AS n ORDER BY n")]
    print(
        f"  built {images} images in {time.perf_counter() - t:.0f} s  [{_load_avg()}]", flush=True
    )
    return names


def pages(
    name: str, config: StoreConfig, images: int, names: list[str], reps: int, seed: int
) -> None:
    from fastapi.testclient import TestClient

    from evokegraph.queries.web.app import create_app

    rng = random.Random(seed)
    with (
        tempfile.TemporaryDirectory() as thumbs,
        TestClient(create_app(config, thumbs_dir=Path(thumbs))) as client,
    ):
        client.get("/images")  # warm up
        kinds = {
            "image page": [f"/image/{rng.randrange(images):064x}" for _ in range(reps)],
            "rings view": [f"/image/{rng.randrange(images):064x}/rings" for _ in range(reps)],
            "concept page": [f"/concept/{rng.choice(names)}" for _ in range(reps)],
            "grid page (48, unfiltered)": [
                f"/images?page={rng.randrange(1, max(2, images // 48))}" for _ in range(reps // 4)
            ],
            "grid page (concept filter)": [
                f"/images?concept={rng.choice(names)}" for _ in range(reps // 4)
            ],
        }
        for kind, urls in kinds.items():
            p50, p95, worst = latency(client, urls)
            print(
                f"  {name:<9} {kind:<28} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   max {worst:7.1f} ms"
                f"   ({len(urls)} requests)  [{_load_avg()}]",
                flush=True,
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=2_000)
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--heap", default="1g", help="the Bolt server's Java heap")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    from evokegraph.graph import server
    from evokegraph.graph.neo4j_store import Neo4jStore

    with tempfile.TemporaryDirectory(prefix="bench-serve-bolt-") as tmp:
        root = Path(tmp)
        lady = StoreConfig(backend="ladybug", path=str(root / "kb.kb"))
        print("LadybugDB (embedded)", flush=True)
        with open_store(lady.replace(create=True)) as kb:
            names = fill(kb, args.images, args.seed)
        pages("ladybug", lady, args.images, names, args.reps, args.seed)

        print("ArcadeDB Bolt server (--backend neo4j)", flush=True)
        info = server.start(root / "arcade", bolt_port=0, http_port=0, heap=args.heap, detach=False)
        try:
            kb = Neo4jStore.connect(info.uri, info.user, info.password, create=True)
            try:
                kb.ensure_schema()
                fill(kb, args.images, args.seed)
            finally:
                kb.close()
            neo = StoreConfig(backend="neo4j", uri=info.uri, user=info.user, password=info.password)
            pages("arcadedb", neo, args.images, names, args.reps, args.seed)
        finally:
            server.stop(root / "arcade")


if __name__ == "__main__":
    main()
