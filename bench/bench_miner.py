"""Speed of the offline content path: the ``contextual`` miner and a captioned ingest.

Two measurements, both with the real models (spaCy en_core_web_sm, the packaged
all-MiniLM-L6-v2) and the vocabulary cache already built (the first run of
evokegraph builds it once, ~1 minute, with a progress bar):

1. ms per element of ``ContextualMiner.mine_one`` over N generated captions
   (elements from ``caption-text``): once with an empty embedding cache
   ("cold": every word and WordNet gloss goes through the encoder once) and once
   in a new encoder over the filled cache ("warm": what every later run sees).
   Target: warm <= 60 ms/element.
2. ``evokegraph ingest`` of 500 captioned images (synthetic JPEGs + sidecar .txt
   captions) in a subprocess, wall clock including model loading, cold and warm
   embedding cache. Target: < 3 minutes.

The captions are generated from a fixed grammar (subject, action, object,
setting; seeded), so every run measures the same input.

Usage: python bench/bench_miner.py [--captions 200] [--images 500] [--skip-ingest]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SUBJECTS = [
    "a woman",
    "an old man",
    "a child",
    "two boys",
    "a girl",
    "a fisherman",
    "a chef",
    "a soldier",
    "a nurse",
    "a farmer",
    "a dog",
    "a cat",
    "a horse",
    "a cyclist",
    "a surfer",
    "a musician",
    "a teacher",
    "a family",
    "a couple",
    "a baker",
]
ACTIONS = [
    "holding",
    "carrying",
    "looking at",
    "sitting next to",
    "standing by",
    "painting",
    "repairing",
    "cleaning",
    "selling",
    "reading",
    "eating",
    "pushing",
    "watching",
]
OBJECTS = [
    "a red umbrella",
    "a wooden boat",
    "a bicycle",
    "a loaf of bread",
    "a guitar",
    "a book",
    "a basket of apples",
    "a kite",
    "a lantern",
    "a cup of tea",
    "a map",
    "a fishing net",
    "a bouquet of flowers",
    "a camera",
    "a suitcase",
    "a violin",
    "a newspaper",
    "a shovel",
    "a candle",
    "a telescope",
]
SETTINGS = [
    "on a crowded beach",
    "in a quiet library",
    "at a train station",
    "in a snowy forest",
    "on a busy street",
    "in a small kitchen",
    "by a mountain lake",
    "in a hospital corridor",
    "at a night market",
    "in a wheat field",
    "under a bridge",
    "in a harbour at dawn",
    "on a rooftop",
    "in a classroom",
    "at a wedding",
    "in the desert",
]


def captions(n: int, seed: int = 7) -> list[str]:
    """``n`` distinct captions from the grammar (deterministic)."""
    rng = random.Random(seed)
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        c = f"{rng.choice(SUBJECTS)} {rng.choice(ACTIONS)} {rng.choice(OBJECTS)} {rng.choice(SETTINGS)}"
        if c not in seen:
            seen.add(c)
            out.append(c)
    return out


def bench_miner(n: int) -> dict[str, float]:
    import torch

    torch.set_num_threads(1)
    from evokegraph.ingest.caption_text import CaptionTextExtractor
    from evokegraph.ingest.contextual import ContextualMiner
    from evokegraph.models.text_encoder import blas_limits, load_text_encoder

    caps = captions(n)
    extractor = CaptionTextExtractor()
    extracted = [extractor.extract_one([c]) for c in caps]
    elements = sum(len(e.elements) for e in extracted)  # type: ignore[union-attr]
    result: dict[str, float] = {"captions": n, "elements": elements}
    with tempfile.TemporaryDirectory() as cache:
        os.environ["EVOKEGRAPH_EMBED_CACHE"] = cache
        for phase in ("cold", "warm"):
            load_text_encoder.cache_clear()  # a new encoder: empty memory, same disk cache
            miner = ContextualMiner()
            t = time.perf_counter()
            miner._models()
            result[f"{phase}_load_s"] = time.perf_counter() - t
            t = time.perf_counter()
            with blas_limits():  # as mine() does
                for c, e in zip(caps, extracted, strict=True):
                    miner.mine_one(e.elements, c)  # type: ignore[union-attr]
            result[f"{phase}_ms_per_element"] = 1000 * (time.perf_counter() - t) / elements
    return result


def write_captioned_images(folder: Path, caps: list[str]) -> None:
    """One small noise JPEG per caption, the caption in its sidecar ``.txt``
    (the ``caption-text`` extractor reads only the caption)."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i, c in enumerate(caps):
        px = rng.integers(0, 255, size=(48, 64, 3), dtype=np.uint8)
        Image.fromarray(px).save(folder / f"img{i:04d}.jpg", quality=80)
        (folder / f"img{i:04d}.txt").write_text(c + "\n")


def bench_ingest(n: int) -> dict[str, float]:
    out: dict[str, float] = {"images": n}
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "images"
        write_captioned_images(src, captions(n))
        cli = str(Path(sys.executable).with_name("evokegraph"))
        embed = Path(tmp) / "embed"
        for phase in ("cold", "warm"):
            db = Path(tmp) / f"{phase}.kb"
            env = {**os.environ, "EVOKEGRAPH_EMBED_CACHE": str(embed)}
            subprocess.run([cli, "--db", str(db), "init"], check=True, stdout=subprocess.DEVNULL)
            t = time.perf_counter()
            subprocess.run(
                [cli, "--db", str(db), "ingest", str(src), "--extractor", "caption-text",
                 "--miner", "contextual", "--no-progress"],
                check=True, env=env, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            out[f"{phase}_ingest_s"] = time.perf_counter() - t
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--captions", type=int, default=200)
    ap.add_argument("--images", type=int, default=500)
    ap.add_argument("--skip-ingest", action="store_true")
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    m = bench_miner(args.captions)
    print(
        f"miner: {m['captions']:.0f} captions, {m['elements']:.0f} elements; "
        f"cold cache {m['cold_ms_per_element']:.1f} ms/element (load {m['cold_load_s']:.1f} s), "
        f"warm cache {m['warm_ms_per_element']:.1f} ms/element (load {m['warm_load_s']:.1f} s); "
        "target warm <= 20 ms/element"
    )
    if not args.skip_ingest:
        r = bench_ingest(args.images)
        print(
            f"ingest of {r['images']:.0f} captioned images (caption-text + contextual, subprocess, "
            f"with model loading): cold embedding cache {r['cold_ingest_s']:.1f} s, "
            f"warm {r['warm_ingest_s']:.1f} s; target <= 60 s warm"
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
