"""The ingestion runner: batches, resume, idempotency, failures, exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from evokegraph.cli import main
from evokegraph.graph.ladybug_store import LadybugStore
from evokegraph.ingest.runner import IngestConfig, ingest

# The fake stages "test-words" / "test-suffix" (conftest.py), registered for each test.
CFG = dict(extractor="test-words", miner="test-suffix")
pytestmark = pytest.mark.usefixtures("fake_stages")


@pytest.fixture
def folder(jpeg: Callable[..., Path], tmp_path: Path) -> Path:
    d = tmp_path / "imgs"
    jpeg(d / "a.jpg", (255, 0, 0), "red square")
    jpeg(d / "b.jpg", (0, 255, 0), "green field")
    jpeg(d / "c.jpg", (0, 0, 255), "blue sky")
    jpeg(d / "nocap.jpg", (9, 9, 9))
    (d / "bad.jpg").write_bytes(b"not a picture")
    return d


def test_run_records_failures_and_goes_on(kb: LadybugStore, folder: Path) -> None:
    s = ingest(kb, [folder], IngestConfig(**CFG, batch_size=2))
    assert (s.seen, s.new, s.failed, s.elements, s.associations) == (5, 4, 2, 6, 30)
    assert dict(s.failures_by_stage) == {"decode": 1, "elements": 1}
    reasons = {Path(f.uri).name: (f.stage, f.reason) for f in kb.failures()}
    assert reasons == {
        "bad.jpg": ("decode", "not an image (Pillow cannot identify it)"),
        "nocap.jpg": ("elements", "no caption; use --extractor vlm"),
    }
    st = kb.stats()
    assert (st.images, st.elements, st.evokes, st.runs) == (4, 6, 30, 1)
    assert st.associated_with == 30
    (run,) = kb.runs()
    assert run.status == "done" and run.counts["failed"] == 2 and "decode" in run.timings


def test_rerun_skips_and_changes_nothing(
    kb: LadybugStore, folder: Path, snapshot, words_extractor
) -> None:
    ingest(kb, [folder], IngestConfig(**CFG))
    before = snapshot(kb)
    words_extractor.calls = 0
    s = ingest(kb, [folder], IngestConfig(**CFG))
    assert s.skipped == 3 and words_extractor.calls == 1  # only the captionless image is retried
    assert snapshot(kb) == before
    s = ingest(kb, [folder], IngestConfig(**CFG, force=True))
    assert s.skipped == 0 and words_extractor.calls == 1 + 4
    assert snapshot(kb) == before


def test_new_captions_redo_only_that_image(kb: LadybugStore, folder: Path, words_extractor) -> None:
    ingest(kb, [folder], IngestConfig(**CFG))
    (folder / "b.txt").write_text("green field\nwet grass")
    words_extractor.calls = 0
    s = ingest(kb, [folder], IngestConfig(**CFG))
    assert s.skipped == 2 and words_extractor.calls == 2  # b + the captionless one


def test_same_picture_two_paths_is_one_image(
    jpeg: Callable[..., Path], kb: LadybugStore, tmp_path: Path
) -> None:
    a = jpeg(tmp_path / "x" / "a.jpg", (1, 2, 3), "one caption")
    (tmp_path / "y").mkdir()
    (tmp_path / "y" / "copy of a.jpg").write_bytes(a.read_bytes())
    (tmp_path / "y" / "copy of a.txt").write_text("another caption")
    ingest(kb, [tmp_path], IngestConfig(**CFG, batch_size=1))
    (im,) = [kb.get_image(i) for i in kb.image_ids()]
    assert sorted(Path(u).name for u in im.image.uris) == ["a.jpg", "copy of a.jpg"]
    assert im.image.captions == ["one caption", "another caption"]


def test_malformed_model_answer_is_recorded(
    jpeg: Callable[..., Path], kb: LadybugStore, tmp_path: Path
) -> None:
    jpeg(tmp_path / "ok.jpg", (1, 1, 1), "fine words")
    jpeg(tmp_path / "zz.jpg", (2, 2, 2), "broken words")
    s = ingest(kb, [tmp_path], IngestConfig(**CFG))
    assert dict(s.failures_by_stage) == {"associations": 1}
    (f,) = kb.failures()
    assert f.raw == '{"broken": [1, 2' and f.reason == "malformed answer: truncated JSON"
    assert kb.stats().evokes == 10


def test_dry_run_writes_nothing(kb: LadybugStore, folder: Path) -> None:
    s = ingest(kb, [folder], IngestConfig(**CFG, dry_run=True))
    assert (s.seen, s.failed) == (5, 1)
    assert kb.stats().images == 0 and kb.stats().runs == 0


def test_limit(kb: LadybugStore, folder: Path) -> None:
    assert ingest(kb, [folder], IngestConfig(**CFG, limit=2)).seen == 2


def test_missing_files_in_a_list_are_failures(
    jpeg: Callable[..., Path], kb: LadybugStore, tmp_path: Path
) -> None:
    jpeg(tmp_path / "a.jpg", (5, 5, 5))
    (tmp_path / "list.csv").write_text("path,caption\na.jpg,a grey square\ngone.jpg,a ghost\n")
    s = ingest(kb, [tmp_path / "list.csv"], IngestConfig(**CFG))
    assert s.failed == 1
    (f,) = kb.failures()
    assert f.stage == "decode" and f.reason == f"file not found ({tmp_path / 'list.csv'}:3)"


def test_cli_exit_codes_and_failures_listing(
    tmp_path: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "k.kb")
    assert main(["--db", db, "init"]) == 0
    code = main(
        [
            "--db",
            db,
            "ingest",
            str(folder),
            "--extractor",
            "test-words",
            "--miner",
            "test-suffix",
            "--no-progress",
        ]
    )
    out, err = capsys.readouterr()
    assert (
        code == 3
        and "2 failure(s) recorded; list them with `evokegraph failures --run ingest-" in err
    )
    assert main(["--db", db, "failures", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sorted(Path(r["uri"]).name for r in rows) == ["bad.jpg", "nocap.jpg"]
    (folder / "bad.jpg").unlink()
    (folder / "nocap.jpg").unlink()
    code = main(
        [
            "--db",
            db,
            "ingest",
            str(folder),
            "--extractor",
            "test-words",
            "--miner",
            "test-suffix",
            "--no-progress",
        ]
    )
    assert code == 0
    capsys.readouterr()
    code = main(["--db", db, "ingest", str(folder), "--extractor", "nope", "--no-progress"])
    assert code == 2 and "unknown extractor 'nope'; known: " in capsys.readouterr().err


def test_bad_source_file_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "k.kb")
    main(["--db", db, "init"])
    p = tmp_path / "captions_x.json"
    p.write_text("{not json")
    code = main(["--db", db, "ingest", str(p), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert (
        code == 2
        and err
        == f"Error: {p}:1: malformed COCO JSON (Expecting property name enclosed in double quotes)"
    )
    # and nothing stored was lost or half-written
    assert LadybugStore(Path(db), read_only=True).stats().images == 0
