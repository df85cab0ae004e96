"""Captioning benchmark: contexts and template captions for a synthetic KB.

Builds a knowledge base of N images (5 elements, one association per element
and distance, over a 20k-word vocabulary) through ``GraphStore.write``, then
times ``context(image, depth)`` for every image at depths 1..5 (target for
10k images: < 10 s), one deeper depth, and the template realizer on the
chosen paths.

Usage: python bench/bench_captioning.py [--images 10000]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_store import synthetic_batch  # noqa: E402

from evokegraph.captioning.realizers import CaptionRequest, TemplateRealizer  # noqa: E402
from evokegraph.captioning.runner import choose  # noqa: E402
from evokegraph.graph.ladybug_store import LadybugStore  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=10_000)
    args = ap.parse_args()
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp, LadybugStore(Path(tmp) / "c.kb", create=True) as kb:
        for start in range(0, args.images, 10_000):
            kb.write(synthetic_batch(start, min(10_000, args.images - start), rng))
        kb.recompute_associations()
        ids = kb.image_ids()
        t = time.perf_counter()
        chosen = []
        for image_id in ids:
            for paths in kb.contexts(image_id, (1, 2, 3, 4, 5)).values():
                chosen += choose(paths, 1, None)
        t_ctx = time.perf_counter() - t
        t = time.perf_counter()
        deep = sum(len(kb.context(i, 7)) for i in ids[:1000])
        t_deep = time.perf_counter() - t
        t = time.perf_counter()
        texts = TemplateRealizer().realize([CaptionRequest(path=p) for p in chosen])
        t_tpl = time.perf_counter() - t
    print(f"images={len(ids)} paths chosen={len(chosen)}")
    print(
        f"contexts depths 1..5 for {len(ids)} images: {t_ctx:.2f} s ({1000 * t_ctx / len(ids) / 5:.3f} ms per image-depth)"
    )
    print(f"contexts depth 7 for 1000 images: {t_deep:.2f} s ({deep} paths)")
    print(f"template captions: {len(texts)} in {t_tpl:.2f} s ({len(texts) / t_tpl:,.0f}/s)")


if __name__ == "__main__":
    main()
