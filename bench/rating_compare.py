"""Rate two knowledge bases in one blind sheet ("before" and "after" a change).

``evokegraph eval sheet`` writes one sheet per KB. Rating two sheets apart
would tell a rater which words are whose; this script merges the sheets of
two KBs built from the same images (same reference file, same ``--seed``, so
the same items and the same other-scene items) into one sheet: per item and
distance the union of both KBs' words, the reference words and the other
scene's words, each asked once, shuffled again, renumbered. ``split`` turns a
filled merged sheet back into one filled sheet per KB, which ``evokegraph eval
ratings KEY SHEETS`` scores with that KB's own key.

Usage:
  python bench/rating_compare.py merge A_DIR B_DIR OUT_DIR [--seed 0]
      (A_DIR, B_DIR: the --out folders of two `eval sheet` runs, each with
      sheet.csv and key.json; OUT_DIR gets sheet.csv, sheet.jsonl for the
      raters and map.json, which must be kept from them)
  python bench/rating_compare.py split OUT_DIR FILLED.csv NAME
      (writes OUT_DIR/NAME/a.csv and OUT_DIR/NAME/b.csv)
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from pathlib import Path

COLUMNS = ("row", "caption", "element", "distance", "level", "definition", "word", "accept")


def _rows(folder: Path) -> list[dict[str, str]]:
    with (folder / "sheet.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def merge(a: Path, b: Path, out: Path, seed: int) -> None:
    groups: dict[tuple[str, str, str], dict[str, dict[str, object]]] = {}
    for label, folder in (("a", a), ("b", b)):
        for r in _rows(folder):
            g = groups.setdefault((r["caption"], r["element"], r["distance"]), {})
            w = " ".join(r["word"].split()).casefold()
            entry = g.setdefault(w, {"row": dict(r), "from": {}})
            entry["from"][label] = r["row"]  # type: ignore[index]
    order = sorted(groups)
    random.Random(f"merge-groups:{seed}").shuffle(order)
    rows, mapping = [], {}
    for gk in order:
        words = sorted(groups[gk])
        random.Random(f"merge-words:{seed}:{gk}").shuffle(words)
        for w in words:
            entry = groups[gk][w]
            rid = f"m{len(rows) + 1:05d}"
            row = {**entry["row"], "row": rid, "accept": ""}  # type: ignore[dict-item]
            rows.append(row)
            mapping[rid] = entry["from"]
    out.mkdir(parents=True, exist_ok=True)
    with (out / "sheet.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    with (out / "sheet.jsonl").open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    (out / "map.json").write_text(json.dumps(mapping, indent=0, sort_keys=True))
    print(f"{len(rows)} rows in {out / 'sheet.csv'} (from {a} and {b}); keep map.json apart")


def split(out: Path, filled: Path, name: str) -> None:
    mapping = json.loads((out / "map.json").read_text())
    with filled.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    target = out / name
    target.mkdir(parents=True, exist_ok=True)
    for label in ("a", "b"):
        with (target / f"{label}.csv").open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS)
            w.writeheader()
            for r in rows:
                orig = mapping[r["row"]].get(label)
                if orig is not None:
                    w.writerow({**r, "row": orig})
    print(f"wrote {target}/a.csv and {target}/b.csv")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("merge")
    m.add_argument("a", type=Path)
    m.add_argument("b", type=Path)
    m.add_argument("out", type=Path)
    m.add_argument("--seed", type=int, default=0)
    s = sub.add_parser("split")
    s.add_argument("out", type=Path)
    s.add_argument("filled", type=Path)
    s.add_argument("name")
    args = ap.parse_args()
    if args.cmd == "merge":
        merge(args.a, args.b, args.out, args.seed)
    else:
        split(args.out, args.filled, args.name)


if __name__ == "__main__":
    main()
