"""Shards and `evokegraph load`: COPY into an empty KB == the idempotent path;
neo4j-admin import files; one-line errors for unfinished or foreign folders."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path
from typing import Any

import pytest

from evokegraph.cli import main
from evokegraph.errors import UserInputError
from evokegraph.graph import bulk
from evokegraph.graph import shards as S
from evokegraph.graph.ladybug_store import LadybugStore
from evokegraph.records import (
    Element,
    Evocation,
    Failure,
    GraphBatch,
    ImageEntry,
    ImageRecord,
)

VOCAB = [f"w{i}" for i in range(30)]


def entry(i: int, rng: random.Random) -> ImageEntry:
    els = rng.sample(VOCAB, 3)
    return ImageEntry(
        image=ImageRecord(id=f"{i:064x}", uris=[f"img/{i}.jpg"], captions=[f"cap {i}; x"]),
        elements=[Element(name=e, concept=e, rank=r) for r, e in enumerate(els)],
        evocations=[
            Evocation(element=e, concept=rng.choice(VOCAB), distance=d, weight=rng.random())
            for e in els
            for d in range(1, 6)
        ],
        stage_keys={"elements": "k1", "associations": "k2"},
    )


def make_shards(root: Path, images: list[list[ImageEntry]]) -> S.ShardSet:
    for k, entries in enumerate(images):
        fails = [Failure(uri=f"bad{k}.png", stage="decode", reason="not an image")]
        concepts = {"w1": 4.5} if k == 0 else {}
        S.write_shard(root, k, GraphBatch(images=entries, failures=fails, concepts=concepts), {})
    (root / S.MANIFEST).write_text(json.dumps({"format": S.FORMAT, "shards": len(images)}))
    return S.open_shards(root)


@pytest.fixture
def shard_set(tmp_path: Path) -> S.ShardSet:
    rng = random.Random(3)
    return make_shards(
        tmp_path / "shards", [[entry(i, rng) for i in range(k, k + 5)] for k in (0, 5, 10)]
    )


def test_copy_load_equals_the_incremental_path(
    shard_set: S.ShardSet, tmp_path: Path, snapshot
) -> None:
    with LadybugStore(tmp_path / "a.kb", create=True) as a:
        assert bulk.load(a, shard_set).mode == "copy"
        got = snapshot(a)
        assert got["stats"]["images"] == 15 and got["stats"]["failures"] == 3
        assert ('"w1"', "4.5") in got["concepts"]
    with LadybugStore(tmp_path / "b.kb", create=True) as b:
        assert bulk.load(b, shard_set, force_incremental=True).mode == "incremental"
        assert snapshot(b) == got
        assert bulk.load(b, shard_set).mode == "incremental"  # non-empty: idempotent path
        assert snapshot(b) == got


def test_a_picture_in_two_shards_is_merged_not_copied_twice(tmp_path: Path, snapshot) -> None:
    rng = random.Random(1)
    a, b = entry(1, rng), entry(2, rng)
    again = a.model_copy(update={"image": a.image.model_copy(update={"uris": ["other/1.jpg"]})})
    shard_set = make_shards(tmp_path / "s", [[a, b], [again]])
    with LadybugStore(tmp_path / "k.kb", create=True) as kb:
        assert bulk.load(kb, shard_set).mode == "incremental"
        assert kb.stats().images == 2
        assert kb.get_image(a.image.id).image.uris == ["img/1.jpg", "other/1.jpg"]


def test_neo4j_import_files_and_command(shard_set: S.ShardSet, tmp_path: Path) -> None:
    out = tmp_path / "neo"
    cmd = bulk.export_neo4j(shard_set, out, "evoke")
    assert cmd.startswith("neo4j-admin database import full --overwrite-destination ")
    assert f"--nodes=Image={out / 'images.csv'}" in cmd
    assert f"--relationships=EVOKES={out / 'evokes.csv'}" in cmd and cmd.endswith(" evoke")
    rows = list(csv.reader((out / "images.csv").open()))
    assert rows[0][:3] == ["id:ID(Image)", "uris:string[]", "width:long"]
    assert rows[1][6] == "cap 0; x"  # arrays split on U+001F, so ';' stays in a caption
    assert next(csv.reader((out / "evokes.csv").open()))[:3] == [
        ":START_ID(Element)",
        ":END_ID(Concept)",
        "distance:long",
    ]
    assert len(list(csv.reader((out / "elements.csv").open()))) == 1 + 15 * 3
    # ASSOCIATED_WITH computed for the import equals what the store recomputes
    aw = list(csv.DictReader((out / "associated_with.csv").open()))
    with LadybugStore(tmp_path / "k.kb", create=True) as kb:
        bulk.load(kb, shard_set)
        stored = kb.query(
            "MATCH (a:Concept)-[r:ASSOCIATED_WITH]->(b:Concept) "
            "RETURN a.name AS a, b.name AS b, r.distance AS d, r.support AS s, r.weight AS w"
        )
    from_csv = sorted(
        (
            r[":START_ID(Concept)"],
            r[":END_ID(Concept)"],
            int(r["distance:long"]),
            int(r["support:long"]),
            round(float(r["weight:double"]), 9),
        )
        for r in aw
    )
    assert len(from_csv) > 50
    assert from_csv == sorted((r["a"], r["b"], r["d"], r["s"], round(r["w"], 9)) for r in stored)


def test_unfinished_or_foreign_folders_are_one_line_errors(
    shard_set: S.ShardSet, tmp_path: Path, capsys: Any
) -> None:
    (shard_set.root / S.shard_name(1) / S.MARKER).unlink()
    with pytest.raises(UserInputError, match="1 of 3 shards unfinished"):
        S.open_shards(shard_set.root)
    assert main(["--db", str(tmp_path / "k.kb"), "load", str(tmp_path)]) != 0
    assert "not a shards folder" in capsys.readouterr().err
    assert not (tmp_path / "k.kb").exists()


def test_load_command_into_an_empty_kb(shard_set: S.ShardSet, tmp_path: Path, capsys) -> None:
    db = tmp_path / "c.kb"
    assert main(["--db", str(db), "load", str(shard_set.root), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["mode"] == "copy"
    with LadybugStore(db, read_only=True) as kb:
        assert kb.stats().images == 15
        assert out["rows"]["evokes"] == kb.stats().evokes > 0
        assert kb.get_meta("associations_dirty") == "0"
        assert [r.command for r in kb.runs()] == ["load"]


def test_new_images_into_a_non_empty_kb_copy_as_the_record_path_writes(
    shard_set: S.ShardSet, tmp_path: Path, snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The load's copy lane for new images (``write_new``) == ``GraphStore.write``:
    stored concepts get their concreteness, resolved failures go, failures seen
    again are updated, not doubled."""
    rng = random.Random(9)
    before = GraphBatch(
        images=[entry(100, rng)],
        failures=[
            Failure(uri="img/3.jpg", stage="decode", reason="truncated"),  # decodes now
            Failure(image_id=f"{4:064x}", stage="associations", reason="bad JSON"),  # done now
            Failure(uri="bad0.png", stage="decode", reason="not an image", run="old"),  # again
            Failure(uri="other.png", stage="decode", reason="stays"),
        ],
    )
    kbs = []
    for name in ("lane", "records"):
        kb = LadybugStore(tmp_path / f"{name}.kb", create=True)
        kb.write(before)
        kb.recompute_associations(None)
        kbs.append(kb)
    lane, records = kbs
    with monkeypatch.context() as m:
        m.setattr(LadybugStore, "write", lambda *a: pytest.fail("not the copy lane"))
        report = bulk.load(lane, shard_set)
    assert report.mode == "incremental" and report.rows["images"] == 15
    for shard in shard_set.shards:
        records.write(S.shard_batch(shard))
    records.recompute_associations(None)
    with lane, records:
        got, want = snapshot(lane), snapshot(records)
        assert got == want
        assert ('"w1"', "4.5") in got["concepts"]
        reasons = sorted(f.reason for f in lane.failures())
        assert reasons == ["not an image"] * 3 + ["stays"]


def test_copy_in_groups_equals_one_group_and_a_killed_load_run_again_too(
    shard_set: S.ShardSet, tmp_path: Path, snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty KB is loaded a group of shards per transaction (here one shard
    each); a load killed after the first group's commit, run again, goes the
    idempotent way and ends with the graph of an uninterrupted load."""
    with LadybugStore(tmp_path / "one.kb", create=True) as kb:
        bulk.load(kb, shard_set)
        want = snapshot(kb)
    monkeypatch.setattr(bulk, "COPY_GROUP_IMAGES", 5)
    copies: list[int] = []
    bulk_copy = LadybugStore.bulk_copy

    def counted(self: LadybugStore, *a: Any) -> None:
        copies.append(1)
        bulk_copy(self, *a)

    monkeypatch.setattr(LadybugStore, "bulk_copy", counted)
    with LadybugStore(tmp_path / "groups.kb", create=True) as kb:
        assert bulk.load(kb, shard_set).mode == "copy"
        assert len(copies) == 3 and snapshot(kb) == want

    def killed(self: LadybugStore, *a: Any) -> None:
        if copies:
            raise KeyboardInterrupt  # the process dies after the first group's commit
        counted(self, *a)

    copies.clear()
    monkeypatch.setattr(LadybugStore, "bulk_copy", killed)
    with LadybugStore(tmp_path / "killed.kb", create=True) as kb:
        with pytest.raises(KeyboardInterrupt):
            bulk.load(kb, shard_set)
        assert kb.stats().images == 5 and kb.get_meta("associations_dirty") == "1"
    monkeypatch.setattr(LadybugStore, "bulk_copy", bulk_copy)
    with LadybugStore(tmp_path / "killed.kb") as kb:
        assert bulk.load(kb, shard_set).mode == "incremental"
        assert snapshot(kb) == want and kb.get_meta("associations_dirty") == "0"
