"""Which memory words raters accept: support among the nearest written items.

For every KB word the blind rounds 15-18 rated at distances 4 and 5 (either
release of a merged round), this reads the memory of written associations as
the miner does, with that round's own scenes left out, and counts how many of
the element's :data:`~evokegraph.ingest.written.NEIGHBOURS` nearest items hold
the word there, and how alike the scene of the closest item holding it is
(cosine of the captions). It prints the share of raters who accepted the words
of each group. Reported figures: docs/content.md, "Results" (the paragraph
on which memory words raters accept).

Usage: python bench/memory_support.py
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from fit_acceptance import DATA, rated_rows

ROUNDS = ("round15", "round16", "round17", "round18")
DISTANCES = (4, 5)


def kb_rows(folder) -> set[str]:
    """Sheet rows holding a KB word of either release."""
    if not (folder / "map.json").exists():
        key = json.loads((folder / "key.json").read_text())
        return {r["row"] for r in key["rows"] if "kb" in r["sources"]}
    merged = json.loads((folder / "map.json").read_text())
    out: set[str] = set()
    for side, name in (("a", "key_after.json"), ("b", "key_before.json")):
        key = json.loads((folder / name).read_text())
        kb = {r["row"] for r in key["rows"] if "kb" in r["sources"]}
        out |= {m for m, to in merged.items() if to.get(side) in kb}
    return out


def left_out(folder: Path, items: list) -> list:
    """The memory's items without the scenes of the round rated in ``folder``."""
    keyfile = folder / ("key.json" if (folder / "key.json").exists() else "key_after.json")
    ref = json.loads(keyfile.read_text())["reference"].split("/")[-1]
    held = {
        " ".join(json.loads(x)["caption"].split())
        for x in (DATA / ref).read_text().splitlines()
        if x.strip()
    }
    return [it for it in items if it.caption not in held]


def round_memories(
    rounds: tuple[str, ...], distances: tuple[int, ...]
) -> Iterator[tuple[Path, Any, Any, dict[int, Any]]]:
    """Per round: (its folder, the encoder, the vocabulary, the memory at each of
    ``distances`` as the miner reads it, the round's own scenes left out)."""
    import torch

    torch.set_num_threads(1)
    from evokegraph.ingest.contextual import MEMORY_SCENE_SHARE, ContextualMiner
    from evokegraph.ingest.written import build_memory, load_written

    enc, vocab = ContextualMiner()._models()
    items, digest = load_written()
    for name in rounds:
        folder = DATA / "ratings" / name
        kept = left_out(folder, items)
        mems = {
            d: build_memory(kept, f"{digest}-{name}", enc, vocab.index, d, MEMORY_SCENE_SHARE[d])
            for d in distances
        }
        yield folder, enc, vocab, mems


def measure() -> list[dict]:
    from evokegraph.ingest.topk import top_stable
    from evokegraph.ingest.written import NEIGHBOURS

    out = []
    for folder, enc, vocab, mems in round_memories(ROUNDS, DISTANCES):
        rows = kb_rows(folder)
        for caption, element, d, word, share, row in rated_rows(folder):
            if row not in rows or d not in DISTANCES or word not in vocab.index:
                continue
            mem, i = mems[d], vocab.index[word]
            ctx = enc.encode([" ".join(caption.split())])[0]
            wvec = enc.encode([element])[0]
            cap = mem.captions @ ctx
            sim = mem.scene_share * cap + (1 - mem.scene_share) * (mem.elements @ wvec)
            holders = np.unique(mem.item[mem.word == i])
            near = set(top_stable(sim, NEIGHBOURS).tolist())
            closest = holders[np.argmax(sim[holders])] if len(holders) else -1
            out.append(
                {
                    "d": d,
                    "y": share,
                    "held": len(holders) > 0,
                    "near": sum(int(j in near) for j in holders),
                    "scene": float(cap[closest]) if closest >= 0 else -1.0,
                }
            )
    return out


def main() -> None:
    rows = measure()
    groups = {
        "no memory item holds it": lambda r: not r["held"],
        "held, by none of the 10 nearest": lambda r: r["held"] and r["near"] == 0,
        "held by 1 of the 10 nearest": lambda r: r["near"] == 1,
        "  ... its scene's caption cosine < 0.3": lambda r: r["near"] == 1 and r["scene"] < 0.3,
        "  ... 0.3 to 0.4": lambda r: r["near"] == 1 and 0.3 <= r["scene"] < 0.4,
        "  ... 0.4 and over": lambda r: r["near"] == 1 and r["scene"] >= 0.4,
        "held by 2+ of the 10 nearest": lambda r: r["near"] >= 2,
    }
    for d in DISTANCES:
        at = [r for r in rows if r["d"] == d]
        print(
            f"distance {d}: {len(at)} rated KB words, accepted {np.mean([r['y'] for r in at]):.0%}"
        )
        for label, test in groups.items():
            ys = [r["y"] for r in at if test(r)]
            if ys:
                print(f"  {label:42s} {len(ys):4d} words, accepted {np.mean(ys):.0%}")


if __name__ == "__main__":
    main()
