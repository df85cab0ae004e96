"""Ingestion overhead with instant backends: everything but the models.

Generates N small synthetic JPEGs with sidecar captions, then ingests them
with an extractor and a miner that answer instantly (elements = caption
words, five associations each), and reports the per-image cost of each
stage: decode/validate (read + sha256 + Pillow decode), records (stage
planning + record building), writes (``GraphStore.write``), and the final
ASSOCIATED_WITH aggregation. Target: < 2 ms per image at batch 256.

Usage: python bench/bench_ingest.py [--images 10000] [--batch 256]
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from evokegraph.graph.ladybug_store import LadybugStore
from evokegraph.images import decode
from evokegraph.ingest.runner import IngestConfig, Ingestor
from evokegraph.ingest.stages import Backends, Extraction, ImageItem, MiningInput
from evokegraph.records import Element, Evocation

WORDS = [
    "red",
    "green",
    "blue",
    "sky",
    "sea",
    "sand",
    "tree",
    "leaf",
    "rock",
    "moss",
    "cat",
    "dog",
    "road",
    "car",
    "boat",
    "hill",
]


class Instant:
    name = "instant"

    def settings(self) -> dict[str, Any]:
        return {}

    def extract(self, items: Sequence[ImageItem]) -> list[Extraction]:
        return [
            Extraction(
                description=it.record.captions[0],
                elements=[
                    Element(name=w, concept=w, rank=i)
                    for i, w in enumerate(it.record.captions[0].split())
                ],
            )
            for it in items
        ]

    def mine(self, items: Sequence[MiningInput]) -> list[list[Evocation]]:
        return [
            [
                Evocation(element=e.concept, concept=f"{e.concept}{d}", distance=d, weight=0.5)
                for e in it.elements
                for d in range(1, 6)
            ]
            for it in items
        ]


def make_images(d: Path, n: int) -> None:
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):  # noise, so that no two JPEGs are byte-identical
        px = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
        Image.fromarray(px).save(d / f"{i:06d}.jpg", quality=90)
        ws = [WORDS[(i + k) % len(WORDS)] for k in range(5)]
        (d / f"{i:06d}.txt").write_text(" ".join(ws))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--flush-every", type=int, default=2048)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        imgs = Path(tmp) / "imgs"
        t = time.perf_counter()
        make_images(imgs, args.images)
        print(f"generated {args.images} images in {time.perf_counter() - t:.1f} s")
        sample = next(imgs.glob("*.jpg")).read_bytes()
        t = time.perf_counter()
        for _ in range(1000):
            hashlib.sha256(sample).hexdigest()
        hash_ms = time.perf_counter() - t
        t = time.perf_counter()
        for _ in range(1000):
            decode(sample)
        decode_ms = time.perf_counter() - t
        with LadybugStore(Path(tmp) / "b.kb", create=True) as kb:
            inst = Instant()
            runner = Ingestor(
                kb,
                IngestConfig(batch_size=args.batch, flush_every=args.flush_every),
                Backends(extractor=inst, miner=inst),
            )
            t = time.perf_counter()
            s = runner.run([imgs])
            total = time.perf_counter() - t
    n = s.seen
    per = {k: 1000 * v / n for k, v in s.seconds.items()}
    records = total - sum(s.seconds.values())
    print(
        f"images={n} elements={s.elements} associations={s.associations} batch={args.batch} flush_every={args.flush_every}"
    )
    print(
        f"  of which: sha256 {hash_ms:.3f} ms/image, Pillow decode+validate {decode_ms:.3f} ms/image (1000 reps)"
    )
    for k, v in per.items():
        print(f"  {k:<24} {v:7.3f} ms/image")
    print(f"  {'records + planning':<24} {1000 * records / n:7.3f} ms/image")
    print(f"total overhead: {1000 * total / n:.3f} ms/image ({n / total:,.0f} images/s)")


if __name__ == "__main__":
    main()
