"""Round 20b: version 24's words for the scenes' common words, rated blind.

Round 20 rates the 60 target words its reference file's writer chose, and
version 24 (the memory adds the commonest caption words it lacked) changed few
of their words. This sheet rates what it changed for the round's other
elements ("man", "red", "sit" ...): every element and distance of
``rating_heldout20.jsonl``'s 30 scenes without a reference item where versions
23 and 24 give different words; each word of either version asked once, with
two reference words of another item of that file at that distance as controls,
shuffled within the slot, unlabelled. ``key.json`` gives each row's source
(``v24``: only version 24 has it, ``v23``: only version 23, ``both``,
``other``: the controls). Three raters worked apart. This prints the share
accepted per source and distance, and Fleiss' kappa.

Round 25b (``round25b``, the same layout): version 30's distance-5 fill words
for the round's elements without a reference item (``fill``), each slot with
two distance-5 reference words of other scenes of ``rating_heldout25.jsonl``
(``other``).

Round 26b (``round26b``, the same layout): where version 31 (a verb's WordNet
categories, an adjective's attribute noun) and version 30 give different
distance-1/2 words for the round's elements without a reference item
(``v31``, ``v30``, ``both``), with two reference words of other items of
``rating_heldout26.jsonl`` at that distance (``other``).

Round 27b (``round27b``): the same for version 32 (``v32``) against version 30
(``v30``) on ``rating_heldout27.jsonl``.

Round 28b (``round28b``): version 33 (``v33``) against version 32 (``v32``) on
``rating_heldout28.jsonl``, nearly all at distance 1.

Round 29b (``round29b``): version 34 (``v34``) against version 33 (``v33``) on
``rating_heldout29.jsonl``, mostly at distance 1.

Round 30b (``round30b``): version 35 (``v35``) against version 34 (``v34``) on
``rating_heldout30.jsonl``, at every distance.

Usage: python bench/round20b.py [round20b | round25b | ... | round29b | round30b]
"""

from __future__ import annotations

import json
import sys

from fit_acceptance import DATA
from keyed_ratings import print_shares, votes

SOURCES = {
    "round20b": ("v24", "v23", "both", "other"),
    "round25b": ("fill", "other"),
    "round26b": ("v31", "v30", "both", "other"),
    "round27b": ("v32", "v30", "both", "other"),
    "round28b": ("v33", "v32", "both", "other"),
    "round29b": ("v34", "v33", "both", "other"),
    "round30b": ("v35", "v34", "both", "other"),
}


def main() -> None:
    from evokegraph.ingest.rating import fleiss_kappa

    name = sys.argv[1] if len(sys.argv) > 1 else "round20b"
    if name not in SOURCES:
        raise SystemExit(f"{name}: give one of {', '.join(SOURCES)}")
    folder = DATA / "ratings" / name
    key = json.loads((folder / "key.json").read_text())
    rated = votes(folder)
    raters = max(map(len, rated.values()))
    full = [v for v in rated.values() if len(v) == raters]
    kappa = fleiss_kappa([[sum(v), len(v) - sum(v)] for v in full])
    print(f"{len(key)} rows, {raters} raters, Fleiss' kappa {kappa:.2f}")
    shares = print_shares(key, rated, SOURCES[name])
    for s in SOURCES[name]:
        ys = [y for (_, src), v in shares.items() if src == s for y in v]
        print(f"{s}: {len(ys)} words, accepted {100 * sum(ys) / len(ys):.0f}%")


if __name__ == "__main__":
    main()
