"""Export graph-derived image-caption pairs for training.

Formats:

* ``csv``: one tab-separated file per split with columns ``filepath`` and
  ``title`` (open_clip's trainer defaults: ``--csv-separator "\\t"
  --csv-img-key filepath --csv-caption-key title``), plus ``depth``,
  ``weight`` and ``image_id`` that open_clip ignores and our trainer uses;
* ``webdataset``: tar shards per split (``webdataset.ShardWriter``), one
  sample per image: the image bytes, a ``json`` with the captions of every
  depth and a ``txt`` with the literal caption;
* ``parquet``: one table (image id, uri, caption, depth, weight, split, path).

An image keeps its source's split (COCO ``captions_val2017.json`` -> ``val``,
a CSV/JSONL ``split`` column); images without one are split by a stable hash
of their id over the ratios, so no image is in two splits. Identical captions
of one image are written once. The pair format, caption normalisation and
split rules live in :mod:`evokegraph.pairs`.
"""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from evokegraph.errors import UserInputError
from evokegraph.graph.store import GraphStore
from evokegraph.pairs import Pair, assign_split, canonical_split, dedupe, parse_split_ratio

__all__ = ["FORMATS", "ExportSummary", "export", "parse_split_ratio"]

FORMATS = ("csv", "webdataset", "parquet")


@dataclass
class ExportSummary:
    counts: Counter[tuple[str, int]] = field(default_factory=Counter)  # (split, depth) -> pairs
    images: Counter[str] = field(default_factory=Counter)
    files: list[Path] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # image files gone (webdataset)
    empty: dict[str, float] = field(default_factory=dict)  # asked-for splits that got no image
    source_split: int = 0  # images whose split came from their source (COCO, CSV/JSONL)

    def rows(self) -> list[dict[str, object]]:
        return [{"split": s, "depth": d, "pairs": n} for (s, d), n in sorted(self.counts.items())]

    def empty_warning(self) -> str | None:
        """One line naming the splits a ratio asked for that received no image."""
        if not self.empty:
            return None
        names = ", ".join(f"{s} ({r:.0%})" for s, r in sorted(self.empty.items()))
        hashed = sum(self.images.values()) - self.source_split
        return (
            f"warning: no image landed in {names}: {hashed} image(s) without a source split, "
            "and those are split by a stable hash of their id; with this few images give larger ratios "
            "(e.g. --split-ratio train=0.6,val=0.2,test=0.2) or fewer splits"
        )


def export(
    store: GraphStore,
    out: Path,
    fmt: str,
    *,
    depths: Sequence[int] | None = None,
    min_weight: float = 0.0,
    realizer: str | None = None,
    ratios: dict[str, float] | None = None,
    shard_size: int = 1000,
) -> ExportSummary:
    if fmt not in FORMATS:
        raise UserInputError(f"unknown format {fmt!r}; use {', '.join(FORMATS)}")
    ratios = ratios or {"train": 1.0}
    pairs = dedupe(store.iter_pairs(depths=depths, min_weight=min_weight, realizer=realizer))
    if not pairs:
        raise UserInputError("no pairs to export; caption the images first (`evokegraph caption`)")
    out.mkdir(parents=True, exist_ok=True)
    by_split: dict[str, list[Pair]] = defaultdict(list)
    summary = ExportSummary()
    for p in pairs:
        s = assign_split(p.image_id, p.split, ratios)
        by_split[s].append(p.model_copy(update={"split": s}))
        summary.counts[(s, p.depth)] += 1
    for s, ps in by_split.items():
        summary.images[s] = len({p.image_id for p in ps})
    summary.source_split = len({p.image_id for p in pairs if canonical_split(p.split)})
    if summary.source_split < len({p.image_id for p in pairs}):
        summary.empty = {s: r for s, r in ratios.items() if r > 0 and s not in by_split}
    if fmt == "webdataset":
        summary.files = _write_wds(by_split, out, shard_size, summary.missing)
    else:
        writer = {"csv": _write_csv, "parquet": _write_parquet}[fmt]
        summary.files = writer(by_split, out, shard_size)
    return summary


def _write_csv(by_split: dict[str, list[Pair]], out: Path, shard_size: int) -> list[Path]:
    files = []
    for s, ps in sorted(by_split.items()):
        path = out / f"{s}.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, delimiter="\t")
            w.writerow(["filepath", "title", "depth", "weight", "image_id"])
            for p in ps:
                w.writerow(
                    [p.uri, " ".join(p.caption.split()), p.depth, f"{p.weight:.6f}", p.image_id]
                )
        files.append(path)
    return files


def _write_parquet(by_split: dict[str, list[Pair]], out: Path, shard_size: int) -> list[Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [p for s in sorted(by_split) for p in by_split[s]]
    table = pa.table(
        {
            "image_id": [p.image_id for p in rows],
            "uri": [p.uri for p in rows],
            "caption": [p.caption for p in rows],
            "depth": pa.array([p.depth for p in rows], type=pa.int32()),
            "weight": [p.weight for p in rows],
            "split": [p.split for p in rows],
            "path": [json.dumps([st.model_dump() for st in p.path]) for p in rows],
        }
    )
    path = out / "pairs.parquet"
    pq.write_table(table, path)
    return [path]


def _write_wds(
    by_split: dict[str, list[Pair]], out: Path, shard_size: int, missing: list[str]
) -> list[Path]:
    import webdataset as wds

    files: list[Path] = []
    for s, ps in sorted(by_split.items()):
        by_image: dict[str, list[Pair]] = defaultdict(list)
        for p in ps:
            by_image[p.image_id].append(p)
        pattern = str(out / f"{s}-%06d.tar")
        with wds.ShardWriter(pattern, maxcount=shard_size, verbose=0) as sink:
            for image_id, group in sorted(by_image.items()):
                uri = group[0].uri
                try:
                    data = Path(uri).read_bytes()
                except OSError:
                    missing.append(uri)  # the file is gone: nothing to train on
                    continue
                captions: dict[str, list[str]] = defaultdict(list)
                for p in group:
                    captions[str(p.depth)].append(p.caption)
                literal = captions.get("0", [group[0].caption])[0]
                sink.write(
                    {
                        "__key__": image_id,
                        Path(uri).suffix.lower().lstrip(".").replace("jpeg", "jpg") or "jpg": data,
                        "json": {
                            "image_id": image_id,
                            "uri": uri,
                            "split": s,
                            "captions": dict(captions),
                        },
                        "txt": literal,
                    }
                )
        files += sorted(out.glob(f"{s}-*.tar"))
    return files
