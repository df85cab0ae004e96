"""Whole-graph dumps of fixed ingestion runs, to compare two versions of the code.

    python tools/graph_dumps.py OUT [--engines local ray] [--miners lexical contextual]
                                    [--images 500] [--ray-workers 1]

writes one JSON file per case into OUT (``tests/conftest.py``'s
``graph_snapshot``: every node and edge bar provenance, sorted, ``sort_keys``),
so that ``diff -r BEFORE AFTER`` (or ``cmp``) shows whether a change of the
ingestion code changed any stored byte. The runs go through the CLI
(``evokegraph ingest``), whose flags stay the same across versions:

* ``demo-<miner>-<engine>``: the bundled sample (``evokegraph sample``), the
  default caption-text extractor, the given miner;
* ``n<images>-<engine>``: synthetic images with captions (three of twenty
  words each, seeded), caption-text + lexical, run in two steps: the first
  half with ``--per-distance 2`` (so that the second run finds those images'
  elements current and their associations stale), then everything with the
  defaults.

The miner's code is not this script's business: to compare pipelines, hold
the miner fixed (the lexical miner, or the same ``ingest/contextual.py`` in
both runs). To dump another commit, install its tree apart and put it first
on the path: ``git archive C | tar -x -C /tmp/c && pip install --no-deps
--no-build-isolation --target /tmp/c_site /tmp/c`` then
``PYTHONPATH=/tmp/c_site python tools/graph_dumps.py OUT``, from a folder
outside the repository (Ray's workers put their current folder first on their
path: in the checkout they would import the working tree).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORDS = [
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


def synthetic_images(d: Path, n: int, seed: int = 0) -> Path:
    """``n`` small PNGs, each with a caption of three of :data:`WORDS` (seeded)."""
    from PIL import Image

    rng = random.Random(seed)
    d.mkdir(parents=True)
    for i in range(n):
        Image.new("RGB", (16, 16), (i % 256, (i // 256) % 256, 7)).save(d / f"{i:05d}.png")
        w = rng.sample(WORDS, 3)
        (d / f"{i:05d}.txt").write_text(f"a {w[0]} and a {w[1]} by the {w[2]}")
    return d


def ingest(db: Path, source: Path, engine: str, *extra: str, workers: int = 1) -> None:
    from evokegraph.cli import main

    if not db.exists() and main(["--db", str(db), "init"]) != 0:
        raise SystemExit(f"init {db} failed")
    args = ["--db", str(db), "ingest", str(source), "--engine", engine, "--no-progress"]
    if engine == "ray":
        n = len(list(db.parent.glob(f"{db.name}.*.shards")))
        args += ["--shards", f"{db}.{n}.shards", "--workers", str(workers)]
        args += ["--cpus-per-worker", "0.5", "--shard-size", "128"]
    code = main([*args, "--batch-size", "32", *extra])
    if code not in (0, 3):  # 3: finished with recorded failures
        raise SystemExit(f"ingest {source} ({engine}) exited {code}")


def dump(db: Path, out: Path) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import graph_snapshot

    from evokegraph.graph.ladybug_store import LadybugStore

    with LadybugStore(db, read_only=True) as kb:
        out.write_text(json.dumps(graph_snapshot(kb), sort_keys=True, indent=0) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--engines", nargs="+", default=["local", "ray"])
    ap.add_argument("--miners", nargs="+", default=["lexical"])
    ap.add_argument("--images", type=int, default=500)
    ap.add_argument(
        "--ray-workers",
        type=int,
        default=1,
        help="the Ray executor's workers (half a CPU each); the dumps do not depend on it",
    )
    ap.add_argument(
        "--work",
        type=Path,
        default=Path(tempfile.gettempdir()) / "graph_dumps_work",
        help="where the inputs and stores go (emptied first; URIs name it, so keep it "
        "the same for dumps to compare)",
    )
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = args.work
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    from evokegraph.ingest.sample import write_sample

    sample = tmp / "sample"
    write_sample(sample)
    many = synthetic_images(tmp / "many", args.images)
    for engine in args.engines:
        for miner in args.miners:
            db = tmp / f"demo-{miner}-{engine}.kb"
            ingest(db, sample, engine, "--miner", miner, workers=args.ray_workers)
            dump(db, args.out / f"demo-{miner}-{engine}.json")
        db = tmp / f"n{args.images}-{engine}.kb"
        t = time.perf_counter()
        ingest(
            db,
            many,
            engine,
            "--miner",
            "lexical",
            "--limit",
            str(args.images // 2),
            "--per-distance",
            "2",
            workers=args.ray_workers,
        )
        ingest(db, many, engine, "--miner", "lexical", workers=args.ray_workers)
        dump(db, args.out / f"n{args.images}-{engine}.json")
        print(f"n{args.images}-{engine}: {time.perf_counter() - t:.1f} s", flush=True)
    print(f"dumps in {args.out}")


if __name__ == "__main__":
    main()
