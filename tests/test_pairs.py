"""Pairs: one caption normaliser, dedupe, splits (a source's own split is kept)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from evokegraph.errors import UserInputError
from evokegraph.graph.ladybug_store import LadybugStore
from evokegraph.ingest.runner import IngestConfig, ingest
from evokegraph.pairs import (
    Pair,
    assign_split,
    canonical_split,
    dedupe,
    literal_pairs,
    norm_caption,
    pair_from_row,
    parse_split_ratio,
    split_of,
)
from evokegraph.training.export import export
from evokegraph.training.train import false_negative_mask

torch.set_num_threads(1)
RATIOS = {"train": 0.5, "test": 0.5}  # no "val": a val image can only come from its source


def pair(image_id: str, caption: str, depth: int = 1, weight: float = 1.0) -> Pair:
    return Pair(
        image_id=image_id,
        uri="",
        caption=caption,
        depth=depth,
        weight=weight,
        split="",
        realizer="",
    )


def test_norm_caption_is_the_one_key() -> None:
    assert norm_caption("A  Dog.") == norm_caption("a dog") == "a dog"
    assert norm_caption("A dog's bone!") == "a dogs bone"
    assert norm_caption("Café au lait") == "café au lait"  # letters beyond ASCII stay
    assert norm_caption("ﬁne") == "fine"  # NFKC
    assert norm_caption("a dog") != norm_caption("a cat")


def test_dedupe_and_training_mask_agree() -> None:
    ps = [pair("a", "A dog.", depth=2), pair("a", "a  dog!", depth=1), pair("b", "a dog")]
    assert [(p.image_id, p.depth) for p in dedupe(ps)] == [("a", 1), ("b", 1)]
    # what dedupe calls one caption, the training loss masks as a false negative
    mask = false_negative_mask(["A dog.", "a  dog!", "a cat"])
    assert mask.tolist() == [[False, True, False], [True, False, False], [False, False, False]]


def test_row_format() -> None:
    step = {"kind": "EVOKES", "source": "dog", "target": "loyalty", "distance": 4, "weight": 0.5}
    p = pair_from_row(
        {
            "image_id": "i1",
            "uris": ["/x/a.jpg", "/y/a.jpg"],
            "text": "loyal",
            "depth": 4,
            "weight": 0.5,
            "split": None,
            "realizer": "template",
            "path": json.dumps([step]),
        }
    )
    assert (p.uri, p.split, p.path[0].target) == ("/x/a.jpg", "", "loyalty")
    lit = list(literal_pairs({"image_id": "i1", "uris": None, "captions": ["x", "y", "x"]}))
    assert [(q.caption, q.depth, q.realizer, q.uri) for q in lit] == [
        ("x", 0, "literal", ""),
        ("y", 0, "literal", ""),
    ]


def test_split_rules() -> None:
    assert parse_split_ratio("train=8,val=1,test=1") == {"train": 0.8, "val": 0.1, "test": 0.1}
    with pytest.raises(UserInputError, match="bad split ratio 'train'"):
        parse_split_ratio("train")
    with pytest.raises(UserInputError, match="must not all be zero"):
        parse_split_ratio("train=0")
    assert [canonical_split(s) for s in ("val2017", "train2014", "Validation", "restval")] == [
        "val",
        "train",
        "val",
        "restval",
    ]
    assert canonical_split("../../etc") == "etc" and canonical_split("..") == ""
    ids = [f"{i:064x}" for i in range(2000)]
    hashed = [assign_split(i, "", RATIOS) for i in ids]
    assert hashed == [split_of(i, RATIOS) for i in ids]  # stable
    assert 0.45 < hashed.count("train") / len(ids) < 0.55  # follows the ratios
    assert {assign_split(i, "val2017", RATIOS) for i in ids} == {"val"}


def coco_val(root: Path) -> Path:
    """A COCO captions_val2017.json with 6 images (files in val2017/)."""
    (root / "val2017").mkdir(parents=True)
    images, anns = [], []
    for i in range(6):
        Image.new("RGB", (8, 8), (30 * i, 80, 10)).save(root / "val2017" / f"{i:06d}.jpg")
        images.append({"id": i, "file_name": f"{i:06d}.jpg"})
        anns.append({"image_id": i, "id": 100 + i, "caption": f"red dog number {i}"})
    ann = root / "annotations" / "captions_val2017.json"
    ann.parent.mkdir()
    ann.write_text(json.dumps({"images": images, "annotations": anns}))
    return ann


def test_export_keeps_a_source_split(
    kb: LadybugStore, tmp_path: Path, fake_stages: dict[str, str]
) -> None:
    ann = coco_val(tmp_path / "coco")
    plain = tmp_path / "plain"
    plain.mkdir()
    for i in range(6):
        Image.new("RGB", (8, 8), (10, 30 * i, 200)).save(plain / f"p{i}.png")
        (plain / f"p{i}.txt").write_text(f"blue sky number {i}")
    s = ingest(kb, [ann, plain], IngestConfig(**fake_stages))
    assert s.new == 12
    summary = export(kb, tmp_path / "out", "csv", ratios=RATIOS, realizer="literal")
    got: dict[str, str] = {}
    for f in summary.files:
        with f.open(newline="", encoding="utf-8") as fh:
            for r in csv.DictReader(fh, delimiter="\t"):
                assert got.setdefault(r["image_id"], f.stem) == f.stem  # one split per image
                got[r["image_id"] + ":uri"] = r["filepath"]
    coco_ids = {k[:-4] for k, v in got.items() if k.endswith(":uri") and "val2017" in v}
    plain_ids = {k[:-4] for k, v in got.items() if k.endswith(":uri") and "plain" in v}
    assert len(coco_ids) == 6 and len(plain_ids) == 6
    # every COCO val image stays in val, though the ratios name no val at all
    assert {got[i] for i in coco_ids} == {"val"}
    # images without a source split get the stable hash split, same as split_of
    assert {i: got[i] for i in plain_ids} == {i: split_of(i, RATIOS) for i in plain_ids}
    assert summary.images["val"] == 6 and summary.source_split == 6
    assert summary.empty_warning() is None or "val" not in summary.empty_warning()
