"""Words blind raters kept rejecting at distances 4-5: the miner leaves them out there.

For every rated round (``bench/data/ratings/round*/``, ``dev2``) the miners'
own words at distances 4-5 (sheet rows that hold a knowledge base's word) and
the share of raters who accepted each. A word proposed in at least
:data:`MIN_SCENES` different scenes and accepted there on average at most
:data:`MAX_SHARE` of the time ("closure", "kind", "feeling", "uncertainty":
hub abstractions the encoder finds near every scene) is written to
``evokegraph/data/rejected.json``. A word raters accepted in a fair share of
its scenes ("pride", "bravery") is kept whatever its count.

Never point this at a round that is still to be reported: rounds 1-8 were
reported before they were added here (rounds 5-8 in README, docs/content.md);
``rating_heldout9.jsonl`` was the held-out test of that list (version 14).
Version 20 adds rounds 9-14, each reported before; ``rating_heldout15.jsonl``
(round 15) is its held-out test.

Usage: python bench/fit_rejected.py [--write]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from fit_acceptance import DATA, kb_rows, rated_rows

ROUNDS = (
    *(f"round{n}" for n in range(1, 15)),  # version 20: rounds 9-14 too
    "dev2",
)
DISTANCES = (4, 5)
MIN_SCENES = 4
# accepted by at most one rater in three, on average (version 11: one in five):
# such a word pulls a distance whose target is one in two down wherever it goes
MAX_SHARE = 1 / 3


def rejected(rounds: tuple[str, ...] = ROUNDS) -> tuple[list[str], dict[str, tuple[int, float]]]:
    """The words to leave out, and every rated word's (scenes, mean share accepted)."""
    shares: dict[str, dict[tuple[str, str, int], float]] = defaultdict(dict)
    for name in rounds:
        folder = DATA / "ratings" / name
        kb = kb_rows(folder)
        for caption, element, d, word, share, row in rated_rows(folder):
            if d in DISTANCES and row in kb:
                shares[word.casefold()][(caption, element, d)] = share
    stats = {w: (len({c for c, _, _ in m}), sum(m.values()) / len(m)) for w, m in shares.items()}
    out = sorted(w for w, (n, s) in stats.items() if n >= MIN_SCENES and s <= MAX_SHARE + 1e-9)
    return out, stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", action="store_true", help="write evokegraph/data/rejected.json")
    args = ap.parse_args()
    words, stats = rejected()
    for w in words:
        n, s = stats[w]
        print(f"{w:16s} {n:3d} scenes, accepted {s:.2f}")
    print(f"{len(words)} of {len(stats)} rated words at distances 4-5")
    if args.write:
        from importlib import resources

        path = Path(str(resources.files("evokegraph.data") / "rejected.json"))
        data = {
            "rule": f"proposed at distances 4-5 in >= {MIN_SCENES} scenes, accepted <= {MAX_SHARE:.2f}",
            "rounds": list(ROUNDS),
            "words": words,
        }
        path.write_text(json.dumps(data, indent=1) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
