"""dev22: would the words under the fill floors fill the empty slots well?

Version 23's coverage (2 words at distances 1-3, 1 at 4-5) is short of 90%
because the miner leaves a slot empty below ``FILL_SCORE``. For rounds 16-18
(reported, so development data now) two KBs were built per round with the
memory leaving that round's scenes out: version 23 as shipped and the same with
``FILL_SCORE`` lowered to 0.1 / 0.15 / 0.3 / 0.2 / 0.2 (distances 1-5), so the
first words of an empty slot come from further down. The sheet
(``bench/data/ratings/dev22/sheet.csv``) holds every slot (element, distance;
distances 1, 2, 4, 5) where the lowered floors added a word: the added words,
the words both KBs share, the reference words and another scene's words,
shuffled and unlabelled; ``key.json`` says which is which. Two raters worked
apart. This script prints the share accepted per source and distance and the
raters' Cohen's kappa.

Usage: python bench/dev22.py
"""

from __future__ import annotations

import json

from fit_acceptance import DATA
from keyed_ratings import print_shares, votes

FOLDER = DATA / "ratings" / "dev22"
SOURCES = ("below_floor", "kb", "reference", "other")


def main() -> None:
    from evokegraph.ingest.rating import cohen_kappa

    key = json.loads((FOLDER / "key.json").read_text())
    rated = votes(FOLDER)
    pairs = [x for x in rated.values() if len(x) == 2]
    kappa = cohen_kappa([a for a, _ in pairs], [b for _, b in pairs])
    print(f"{len(key)} rows; Cohen's kappa {kappa:.2f}")
    print_shares(key, rated, SOURCES)


if __name__ == "__main__":
    main()
