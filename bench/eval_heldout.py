"""Association quality on a held-out reference file the miners were not tuned on.

``evokegraph/data/sample_gold.jsonl`` (the sample's reference, shown by
``make demo``) is the file the contextual miner's settings were chosen on.
``bench/data/heldout_gold.jsonl`` holds other scenes, written later and never
used to choose a setting: a figure that holds on both is not an artefact of
tuning. This script turns each reference caption into a small synthetic
image with that caption as its sidecar, ingests them with the miner(s) asked
for (caption-text elements) and prints ``evokegraph eval associations`` for
each.

Usage: python bench/eval_heldout.py [--miner contextual --miner lexical] [--gold FILE]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--miner", action="append", default=None)
    ap.add_argument("--gold", type=Path, default=HERE / "data" / "heldout_gold.jsonl")
    args = ap.parse_args()
    miners = args.miner or ["contextual", "lexical"]

    from bench_miner import write_captioned_images

    caps = sorted(
        {json.loads(line)["caption"] for line in args.gold.read_text().splitlines() if line}
    )
    cli = str(Path(sys.executable).with_name("evokegraph"))
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "images"
        write_captioned_images(src, caps)
        for miner in miners:
            db = str(Path(tmp) / f"{miner}.kb")
            run = [cli, "--db", db]
            subprocess.run([*run, "init"], check=True, stdout=subprocess.DEVNULL)
            subprocess.run(
                [*run, "ingest", str(src), "--extractor", "caption-text", "--miner", miner, "--no-progress"],
                check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            print(f"== {miner} on {args.gold.name} ({len(caps)} images)", flush=True)
            subprocess.run([*run, "eval", "associations", str(args.gold)], check=True)


if __name__ == "__main__":
    main()
