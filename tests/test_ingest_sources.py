"""Sources: folders, sidecars, CSV/JSONL lists, COCO; malformed files named with line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evokegraph.errors import SourceError, UserInputError
from evokegraph.ingest.sources import iter_source, iter_sources


def touch(p: Path) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(b"x")
    return p


def test_folder_recursive_with_sidecars(tmp_path: Path) -> None:
    touch(tmp_path / "b.jpg")
    touch(tmp_path / "sub" / "a.PNG")
    touch(tmp_path / "sub" / "deeper" / "c.webp")
    touch(tmp_path / "notes.md")
    (tmp_path / "b.txt").write_text("a dog on grass\n\n  a brown   dog  \n")
    items = list(iter_source(tmp_path))
    assert [i.path.relative_to(tmp_path).as_posix() for i in items] == [
        "b.jpg",
        "sub/a.PNG",
        "sub/deeper/c.webp",
    ]
    assert items[0].captions == ["a dog on grass", "a brown dog"]
    assert items[1].captions == []


def test_csv_list(tmp_path: Path) -> None:
    (tmp_path / "list.csv").write_text(
        "path,captions,split\nimgs/a.jpg,a cat|a sleeping cat,train\n/abs/b.jpg,,val\n"
    )
    items = list(iter_source(tmp_path / "list.csv"))
    assert [(str(i.path), i.captions, i.split) for i in items] == [
        (str(tmp_path / "imgs" / "a.jpg"), ["a cat", "a sleeping cat"], "train"),
        ("/abs/b.jpg", [], "val"),
    ]
    assert items[0].origin == f"{tmp_path / 'list.csv'}:2"


def test_csv_bad_row_names_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "list.csv"
    p.write_text("path,caption\na.jpg,a cat\nb.jpg,a dog, on grass\n")
    with pytest.raises(SourceError, match=rf"{p}:3: 3 fields, header has 2"):
        list(iter_source(p))
    p.write_text("file path,caption\na.jpg,x\n")
    with pytest.raises(SourceError, match=rf"{p}:1: no path column"):
        list(iter_source(p))
    p.write_text("path,caption\n,a cat\n")
    with pytest.raises(SourceError, match=rf"{p}:2: no image path"):
        list(iter_source(p))


def test_jsonl_list(tmp_path: Path) -> None:
    p = tmp_path / "list.jsonl"
    p.write_text(
        json.dumps({"path": "a.jpg", "captions": ["one", "two"]})
        + "\n\n"
        + json.dumps({"file_name": "b.jpg", "caption": "three", "split": "test"})
        + "\n"
    )
    items = list(iter_source(p))
    assert [(i.path.name, i.captions, i.split) for i in items] == [
        ("a.jpg", ["one", "two"], ""),
        ("b.jpg", ["three"], "test"),
    ]
    p.write_text(json.dumps({"path": "a.jpg"}) + "\n{oops\n")
    with pytest.raises(SourceError, match=rf"{p}:2: malformed JSON"):
        list(iter_source(p))


def coco(tmp_path: Path) -> Path:
    ann = tmp_path / "annotations" / "captions_val2017.json"
    ann.parent.mkdir()
    (tmp_path / "val2017").mkdir()
    ann.write_text(
        json.dumps(
            {
                "images": [
                    {"id": 7, "file_name": "000007.jpg"},
                    {"id": 9, "file_name": "000009.jpg"},
                ],
                "annotations": [
                    {"image_id": 7, "id": 1, "caption": "A man riding a horse."},
                    {"image_id": 7, "id": 2, "caption": "A rider on a brown horse."},
                ],
            }
        )
    )
    return ann


def test_coco_captions(tmp_path: Path) -> None:
    ann = coco(tmp_path)
    items = list(iter_source(ann))
    assert [(i.path, i.captions, i.split) for i in items] == [
        (
            tmp_path / "val2017" / "000007.jpg",
            ["A man riding a horse.", "A rider on a brown horse."],
            "val2017",
        ),
        (tmp_path / "val2017" / "000009.jpg", [], "val2017"),
    ]
    other = tmp_path / "elsewhere"
    assert next(iter(iter_source(ann, image_root=other))).path == other / "000007.jpg"


def test_malformed_coco(tmp_path: Path) -> None:
    p = tmp_path / "captions_x.json"
    p.write_text('{"images": [\n{"id": 1,\n "file_name": }\n]}')
    with pytest.raises(SourceError, match=rf"{p}:3: malformed COCO JSON"):
        list(iter_source(p))
    p.write_text('{"annotations": []}')
    with pytest.raises(SourceError, match="not a COCO captions file; it needs an 'images' list"):
        list(iter_source(p))
    p.write_text('{"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [{"image_id": 1}]}')
    with pytest.raises(SourceError, match="annotation #0 needs 'image_id' and a string 'caption'"):
        list(iter_source(p))


def test_extra_captions_file_and_missing_source(tmp_path: Path) -> None:
    touch(tmp_path / "imgs" / "a.jpg")
    (tmp_path / "caps.jsonl").write_text(
        json.dumps({"path": "a.jpg", "captions": ["extra"]}) + "\n"
    )
    (items,) = [list(iter_sources([tmp_path / "imgs"], captions=tmp_path / "caps.jsonl"))]
    assert items[0].captions == ["extra"]
    with pytest.raises(UserInputError, match="does not exist"):
        list(iter_sources([tmp_path / "nope"]))
