"""Training and evaluation benchmark.

1. Batches per second of the distance-token step (frozen CLIP + tokens, our
   false-negative-masked loss) against open_clip's own training step
   (``model(images, texts)`` + ``open_clip.loss.ClipLoss``, all weights
   trainable) on the same model config and batch, in one run. Our trainer
   takes one batch from each of its two streams per optimizer step, so it is
   compared per batch.
2. Full-matrix retrieval evaluation of 10k x 10k embeddings on the CPU.

Usage: python bench/bench_training.py [--model-config tiny|vit-b-32] [--batch 32] [--steps 20]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from evokegraph.models.clip import load_open_clip
from evokegraph.training.evaluate import retrieval
from evokegraph.training.model import DistanceTokenCLIP
from evokegraph.training.train import contrastive_loss, false_negative_mask

CONFIGS = {
    "tiny": {
        "embed_dim": 64,
        "vision_cfg": {
            "image_size": 64,
            "layers": 2,
            "width": 128,
            "patch_size": 16,
            "head_width": 32,
        },
        "text_cfg": {
            "context_length": 77,
            "vocab_size": 49408,
            "width": 128,
            "heads": 4,
            "layers": 2,
        },
    },
    "vit-b-32": {
        "embed_dim": 512,
        "vision_cfg": {"image_size": 224, "layers": 12, "width": 768, "patch_size": 32},
        "text_cfg": {
            "context_length": 77,
            "vocab_size": 49408,
            "width": 512,
            "heads": 8,
            "layers": 12,
        },
    },
}


def model_dir(name: str, tmp: Path) -> str:
    d = tmp / name
    d.mkdir()
    (d / "open_clip_config.json").write_text(json.dumps({"model_cfg": CONFIGS[name]}))
    return f"local-dir:{d}"


def rate(step, steps: int) -> float:
    for _ in range(3):
        step()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-config", default="tiny", choices=sorted(CONFIGS))
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--eval-n", type=int, default=10_000)
    args = ap.parse_args()
    import open_clip

    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        spec = model_dir(args.model_config, Path(tmp))
        size = CONFIGS[args.model_config]["vision_cfg"]["image_size"]
        images = torch.rand(args.batch, 3, size, size, device=device)
        captions = [f"caption number {i}" for i in range(args.batch)]
        depths = torch.randint(0, 6, (args.batch,), device=device)

        ref, _, tok = load_open_clip(spec, "none", device=device)
        texts = tok(captions).to(device)
        ref_opt = torch.optim.Adam(ref.parameters(), lr=1e-5)
        clip_loss = open_clip.loss.ClipLoss()

        def ref_step() -> None:
            out = ref(images, texts)
            image_features, text_features, logit_scale = out[:3]
            loss = clip_loss(image_features, text_features, logit_scale)
            loss.backward()
            ref_opt.step()
            ref_opt.zero_grad(set_to_none=True)

        clip, _, _ = load_open_clip(spec, "none", device=device)
        ours = DistanceTokenCLIP(clip, n_tokens=5).to(device)
        opt = torch.optim.Adam([ours.distance_tokens], lr=1e-4)

        def our_step() -> None:
            img = ours.encode_image(images, depths)
            txt = ours.encode_text(texts)
            loss = contrastive_loss(img, txt, ours.logit_scale.exp(), false_negative_mask(captions))
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        r_ref = rate(ref_step, args.steps)
        r_ours = rate(our_step, args.steps)
    print(f"device={device} model={args.model_config} batch={args.batch}")
    print(f"open_clip step (all weights):       {r_ref:8.2f} batches/s")
    print(f"distance-token step (tokens only):  {r_ours:8.2f} batches/s")
    print(f"ratio ours / open_clip:             {r_ours / r_ref:8.2f}")
    rng = np.random.default_rng(0)
    a = rng.standard_normal((args.eval_n, 512)).astype(np.float32)
    b = a + 3 * rng.standard_normal((args.eval_n, 512)).astype(np.float32)
    retrieval(a[:100], b[:100], list(range(100)))  # warm BLAS
    t = time.perf_counter()
    retrieval(a, b, list(range(args.eval_n)))
    print(
        f"full-matrix eval {args.eval_n} x {args.eval_n} (512-d, both directions): {time.perf_counter() - t:.2f} s"
    )


if __name__ == "__main__":
    main()
