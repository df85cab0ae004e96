"""The reference preset end to end on a GPU machine (not run in CI; needs weights).

    python bench/gpu_reference.py --coco captions_val2014.json --image-root val2014/ \
        --n 200 --llm vllm:Qwen/Qwen2.5-7B-Instruct --foils foilv1.0_test_2017.json

Steps, each a separate ``evokegraph`` process so that each vLLM engine gives
its GPU memory back: ingest with ``--preset reference`` (LLM associations on
the reference prompt), caption with ``--preset reference`` (Molmo-7B-D on
vLLM, its plain prompt, uniform association choice), export, distance-token
training (pre-ln tokens, N(0, 1) init, laion2b_s34b_b79k ViT-B-32), and the
notebook's CLIP-cosine protocol (``report abstraction --protocol reference``),
whose table prints the reference's means beside ours. Needs: a CUDA GPU,
vLLM, the LLM, Molmo-7B-D-0924 and the open_clip weights in the local caches
(or the hub reachable). The reference used gpt-4o-mini for associations; pass
``--llm openai:gpt-4o-mini`` with OPENAI_API_KEY to match it exactly.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path


def run(args: list[str], label: str) -> str:
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "evokegraph.cli", *args], capture_output=True, text=True
    )
    took = time.perf_counter() - t
    print(f"[{label}] exit {proc.returncode} in {took:.0f} s", flush=True)
    if proc.returncode not in (0, 3):  # 3: finished with some recorded failures
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"{label} failed")
    return proc.stdout


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--coco", required=True, help="COCO captions JSON (the source).")
    ap.add_argument("--image-root", required=True, help="Folder of the COCO images.")
    ap.add_argument("--n", type=int, default=200, help="Images.")
    ap.add_argument("--llm", default="vllm:Qwen/Qwen2.5-7B-Instruct")
    ap.add_argument("--vlm", default="vllm:allenai/Molmo-7B-D-0924")
    ap.add_argument("--foils", default=None, help="FOIL annotations JSON (optional).")
    ap.add_argument("--work", default="runs/gpu_reference")
    ap.add_argument("--epochs", type=int, default=1)
    a = ap.parse_args(argv)
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    db = ["--db", str(work / "reference.kb")]
    local = ["--trust-remote-code", "--dtype", "bfloat16"]
    run([*db, "init"], "init")
    llm_opts = local if a.llm.startswith(("vllm:", "transformers:")) else []
    run(
        [*db, "ingest", a.coco, "--image-root", a.image_root, "--limit", str(a.n)]
        + ["--preset", "reference", "--llm", a.llm, *llm_opts, "--no-progress"],
        "ingest (reference preset)",
    )
    run(
        [*db, "caption", "--preset", "reference", "--vlm", a.vlm, *local, "--no-progress"],
        "caption (reference preset)",
    )
    run([*db, "export", str(work / "export"), "--format", "csv"], "export")
    out = run(
        ["train", "--data", str(work / "export" / "train.csv"), "--out", str(work / "train")]
        + ["--epochs", str(a.epochs), "--batch-size", "512"],
        "train (distance tokens)",
    )
    print(json.dumps(json.loads(out), indent=1))
    report = [*db, "report", "abstraction", "--protocol", "reference", "--clip-model", "ViT-B-32"]
    if a.foils:
        report += ["--foils", a.foils]
    print(run(report, "notebook protocol"))


if __name__ == "__main__":
    main()
