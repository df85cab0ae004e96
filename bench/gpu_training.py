"""CLIP training on a GPU with the project's own trainer and evaluation, on RANDOM weights.

    python bench/gpu_training.py --export EXPORT_DIR --out result.json \
        [--model ViT-B-32] [--device cuda] [--steps 60] [--batch 256] [--replicas 64]

What it measures is speed and correctness only, never quality: no CLIP
weights can be reached on the GPU machine, so ViT-B-32 runs from a random
init (``--pretrained none``), and every figure it writes says so. Steps:

1. Pairs: an export from ``evokegraph export --format csv`` (``train.csv``,
   ``test.csv``; image files found by name under ``EXPORT_DIR/images`` when
   their exported path is not there). Each training image is turned into
   ``--replicas`` distinct JPEG variants (seeded crops and flips), each with
   the image's captions, written in the export's csv format: the same pairs
   at a size where a batch of 256 means something.
2. The model step alone on batches already on the device (no loader): the
   method's distance-token step and full fine-tuning, bf16 autocast and fp32.
3. The trainer end to end (``python -m evokegraph.training.train``'s
   ``main(argv)``, the torchrun entry point): distance tokens (the method),
   then plain fine-tuning with both towers unlocked; pairs/s after warm-up,
   peak GPU memory, the loss curve.
4. Retrieval (``evaluate_model``, the ``eval retrieval`` code) of the random
   baseline and of each checkpoint, on the export's test split and on the
   training images' originals. Baseline and checkpoint load the same random
   init (the trainer's seed), checked by a weight fingerprint.

Writes one JSON document to ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

RANDOM_NOTE = "RANDOM WEIGHTS (--pretrained none): speed and correctness only, not quality"
TINY = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16, "head_width": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


# -- pairs ----------------------------------------------------------------------
def read_export(path: Path, images: Path) -> list[dict[str, str]]:
    """An export csv; an image path that is not there is looked up by name in ``images``."""
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    for r in rows:
        if not Path(r["filepath"]).is_file():
            r["filepath"] = str(images / Path(r["filepath"]).name)
        if not Path(r["filepath"]).is_file():
            raise SystemExit(f"{path}: image {r['filepath']} not found; give --export DIR/images")
    return rows


def write_csv(rows: list[dict[str, str]], path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, ["filepath", "title", "depth", "weight", "image_id"], delimiter="\t")
        w.writeheader()
        w.writerows({k: r[k] for k in w.fieldnames} for r in rows)
    return path


def replicate(rows: list[dict[str, str]], k: int, work: Path, size: int = 256) -> list[dict]:
    """Each image as ``k`` seeded crop/flip variants (JPEG files), each with its captions."""
    from PIL import Image, ImageOps

    out_dir = work / "variants"
    out_dir.mkdir(parents=True, exist_ok=True)
    by_image: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by_image.setdefault(r["image_id"], []).append(r)
    out: list[dict] = []
    for image_id, group in sorted(by_image.items()):
        rng = random.Random(image_id)
        with Image.open(group[0]["filepath"]) as im:
            src = im.convert("RGB")
        for v in range(k):
            w, h = src.size
            s = rng.uniform(0.5, 1.0)
            cw, ch = int(w * s), int(h * s)
            x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
            var = src.crop((x, y, x + cw, y + ch)).resize((size, size))
            if rng.random() < 0.5:
                var = ImageOps.mirror(var)
            p = out_dir / f"{image_id[:16]}-{v:03d}.jpg"
            var.save(p, quality=90)
            out += [{**r, "filepath": str(p), "image_id": f"{image_id}~{v}"} for r in group]
    return out


# -- model step alone -------------------------------------------------------------
def step_rate(
    model_name: str, device: str, method: str, amp: bool, batch: int, steps: int, size: int
) -> dict[str, Any]:
    """Optimizer steps/s of one loss on a batch already on the device (no loader)."""
    from evokegraph.training.config import TrainConfig
    from evokegraph.training.train import _batch_loss, autocast, build_model

    cfg = TrainConfig(
        data="-", model=model_name, pretrained="none", method=method, device=device, amp=amp
    )
    cfg.lock_image = False
    torch.manual_seed(0)
    model, _, tokenizer = build_model(cfg)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=1e-5)
    caps = [f"caption number {i}" for i in range(batch)]
    b = {
        "images": torch.randn(batch, 3, size, size, device=device),
        "tokens": tokenizer(caps).to(device),
        "captions": caps,
        "image_ids": [str(i) for i in range(batch)],
        "depths": torch.randint(0, 6, (batch,)),
    }

    def one() -> None:
        with autocast(cfg):
            loss = _batch_loss(model, model, b, tokenizer, device)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    rate, peak = _timed(one, steps, device)
    return {
        "method": method if method == "distance-tokens" else "finetune (both towers unlocked)",
        "precision": "bf16 autocast" if amp and device.startswith("cuda") else "fp32",
        "batch": batch,
        "trainable_params": sum(p.numel() for p in params),
        "steps_per_s": round(rate, 2),
        "pairs_per_s": round(rate * batch, 1),
        "peak_memory_gib": peak,
    }


def _timed(fn: Callable[[], None], steps: int, device: str) -> tuple[float, float | None]:
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    for _ in range(3):
        fn()
    if cuda:
        torch.cuda.synchronize(device)
    t = time.perf_counter()
    for _ in range(steps):
        fn()
    if cuda:
        torch.cuda.synchronize(device)
    rate = steps / (time.perf_counter() - t)
    peak = round(torch.cuda.max_memory_allocated(device) / 2**30, 3) if cuda else None
    return rate, peak


# -- the trainer and the evaluation ---------------------------------------------------
def run_trainer(args: argparse.Namespace, data: Path, out: Path, method: str) -> dict[str, Any]:
    from evokegraph.training.train import main

    argv = [
        "--data", str(data), "--model", args.model, "--pretrained", "none",
        "--method", method, "--out", str(out), "--epochs", "1000",
        "--max-steps", str(args.steps), "--batch-size", str(args.batch),
        "--workers", str(args.workers), "--device", args.device,
        "--lr", str(args.token_lr if method == "distance-tokens" else args.lr),
    ]  # fmt: skip
    if method == "finetune":
        argv += ["--no-lock-image"]
    t = time.perf_counter()
    result = main(argv)
    result["wall_seconds"] = round(time.perf_counter() - t, 2)
    log = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    result["loss_curve"] = [round(r["loss"], 4) for r in log]
    w = min(5, len(log) // 3) or 1
    first = sum(r["loss"] for r in log[:w]) / w
    last = sum(r["loss"] for r in log[-w:]) / w
    result["loss_first_mean"], result["loss_last_mean"] = round(first, 4), round(last, 4)
    result["loss_went_down"] = last < first
    warm = log[min(args.warmup, len(log) - 1)]
    steady = log[-1]["seconds"] - warm["seconds"]
    pairs = sum(r["pairs"] for r in log if r["step"] > warm["step"])
    result["steady_pairs_per_s"] = round(pairs / steady, 1) if steady > 0 else None
    result["steady_steps"] = log[-1]["step"] - warm["step"]
    result["argv"] = " ".join(argv)
    return result


def fingerprint(model_name: str, device: str, seed: int = 0) -> float:
    """A sum over the random init's weights under ``seed`` (as the trainer seeds)."""
    from evokegraph.models.clip import load_open_clip

    torch.manual_seed(seed)
    clip, _, _ = load_open_clip(model_name, "none", device)
    return float(sum(p.detach().double().sum().item() for p in clip.parameters()))


def evaluate(args: argparse.Namespace, data: Path, checkpoint: str | None) -> list[dict]:
    from evokegraph.training.evaluate import evaluate_model

    torch.manual_seed(0)  # the trainer's seed: the same random init as the checkpoint's
    t = time.perf_counter()
    rows = evaluate_model(
        args.model, str(data), pretrained="none", checkpoint=checkpoint, device=args.device
    )
    took = round(time.perf_counter() - t, 2)
    return [{**r, "seconds": took} for r in rows if r["depth"] in (0, 3)]


# -- main -------------------------------------------------------------------------
def environment(device: str) -> dict[str, Any]:
    import open_clip

    env = {
        "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"),
        "host": platform.node(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "open_clip": open_clip.__version__,
        "cpus": os.cpu_count(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }
    if device.startswith("cuda"):
        env["gpu"] = torch.cuda.get_device_name(device)
        env["gpu_memory_gib"] = round(torch.cuda.get_device_properties(device).total_memory / 2**30)
    return env


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--export", type=Path, required=True, help="train.csv, test.csv, images/.")
    ap.add_argument("--out", type=Path, required=True, help="The JSON result.")
    ap.add_argument("--model", default="ViT-B-32", help="open_clip name; 'tiny': a tiny config.")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--steps", type=int, default=60, help="Optimizer steps per trainer run.")
    ap.add_argument("--warmup", type=int, default=5, help="Steps left out of steady pairs/s.")
    ap.add_argument("--batch", type=int, default=256, help="Pairs per batch, each stream.")
    ap.add_argument("--replicas", type=int, default=64, help="Variants of each training image.")
    ap.add_argument("--workers", type=int, default=7, help="Loader workers, each loader.")
    ap.add_argument("--lr", type=float, default=1e-4, help="finetune's learning rate.")
    ap.add_argument("--token-lr", type=float, default=1e-3, help="distance tokens' learning rate.")
    ap.add_argument("--step-iters", type=int, default=20, help="Timed model steps, each setting.")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse(argv)
    t0 = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="gpu-training-"))
    if args.model == "tiny":
        (work / "tiny").mkdir()
        (work / "tiny" / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY}))
        args.model = f"local-dir:{work / 'tiny'}"
    size = 64 if "tiny" in args.model else 224
    if args.device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    report: dict[str, Any] = {"note": RANDOM_NOTE, "environment": environment(args.device)}
    report["settings"] = {k: str(v) for k, v in vars(args).items()}
    images = args.export / "images"
    train_rows = read_export(args.export / "train.csv", images)
    test_csv = write_csv(read_export(args.export / "test.csv", images), work / "test.csv")
    originals = write_csv(train_rows, work / "train_originals.csv")
    t = time.perf_counter()
    big = write_csv(replicate(train_rows, args.replicas, work), work / "train.csv")
    report["pairs"] = {
        "export_train_pairs": len(train_rows),
        "export_train_images": len({r["image_id"] for r in train_rows}),
        "replicas": args.replicas,
        "train_pairs": sum(1 for _ in big.open()) - 1,
        "variants_seconds": round(time.perf_counter() - t, 2),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save = _saver(report, args.out, t0)
    save("pairs")
    workers = shm_workers(args)
    if workers != args.workers:
        report["workers_lowered"] = f"{args.workers} -> {workers}: /dev/shm is small"
        args.workers = workers
    report["same_random_init"] = fingerprint(args.model, args.device) == fingerprint(
        args.model, args.device
    )
    report["trainer"], report["errors"] = {}, {}
    for method in ("distance-tokens", "finetune"):
        try:
            res = run_trainer(args, big, work / method, method)
            res["eval"] = {
                "test": evaluate(args, test_csv, res["checkpoint"]),
                "train_originals": evaluate(args, originals, res["checkpoint"]),
            }
            report["trainer"][method] = res
        except Exception as exc:  # recorded; the other phases still run
            report["errors"][method] = f"{type(exc).__name__}: {exc}"
        save(method)
    report["eval_baseline"] = {
        "test": evaluate(args, test_csv, None),
        "train_originals": evaluate(args, originals, None),
    }
    save("eval_baseline")
    report["model_step"] = []
    for m in ("distance-tokens", "finetune"):
        for amp in (True, False) if args.device.startswith("cuda") else (False,):
            try:
                rate = step_rate(args.model, args.device, m, amp, args.batch, args.step_iters, size)
                report["model_step"].append(rate)
            except Exception as exc:
                report["errors"][f"model_step {m} amp={amp}"] = f"{type(exc).__name__}: {exc}"
            save("model_step")
    print(f"wrote {args.out} in {report['total_seconds']} s; {RANDOM_NOTE}")
    return report


def _saver(report: dict[str, Any], out: Path, t0: float) -> Callable[[str], None]:
    """Write the report after each phase, so a run cut short still leaves its figures."""

    def save(phase: str) -> None:
        report["done"] = [*report.get("done", []), phase]
        report["total_seconds"] = round(time.perf_counter() - t0, 1)
        out.write_text(json.dumps(report, indent=1))
        print(f"[{report['total_seconds']} s] {phase} done", flush=True)
        if phase == "pairs":
            print(json.dumps(report), flush=True)
        elif phase in report.get("trainer", {}):
            res = report["trainer"][phase]
            keys = ("steady_pairs_per_s", "cuda_peak_memory_gib", "loss_first_mean")
            print(" ", {k: res.get(k) for k in (*keys, "loss_last_mean")}, flush=True)
        elif phase == "model_step" and report["model_step"]:
            print(" ", json.dumps(report["model_step"][-1]), flush=True)
        if report.get("errors"):
            print("  errors:", json.dumps(report["errors"])[:2000], flush=True)

    return save


def shm_workers(args: argparse.Namespace) -> int:
    """Loader workers that fit /dev/shm: each holds up to 2 batches per loader in flight."""
    import shutil

    if args.workers == 0 or not Path("/dev/shm").is_dir():
        return args.workers
    per_worker = 2 * 2 * args.batch * 3 * 224 * 224 * 4 * 1.5
    free = shutil.disk_usage("/dev/shm").free
    return max(0, min(args.workers, int(free // per_worker)))


if __name__ == "__main__":
    main()
