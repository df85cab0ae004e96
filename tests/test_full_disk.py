"""A full disk (issue 24): `ingest` into a knowledge base on a small tmpfs the
test mounts, until the disk fills.

What must hold: the command says in one line that the disk is full and what
to do, exits 1, prints no traceback; read-only commands open the knowledge
base afterwards (recovering it) and see every flush whose write returned,
each image whole; once space is freed the same command finishes, and the
knowledge base then equals one written on a roomy disk. Needs root (mount);
skipped with the reason where it cannot mount.

The ingest runs in a subprocess through the real CLI entry point; the store's
``write`` is wrapped there to log the ids of each flush that returned (the
committed ones), outside the small disk.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evokegraph.graph.ladybug_store import LadybugStore

pytestmark = pytest.mark.slow

N_IMAGES = 60
FLUSH = 8
INGEST = ["--miner", "lexical", "--tagger", "heuristic", "--flush-every", str(FLUSH)]
DISK = 64 * 2**20
CAPTION_BATCH = 6
CAPTION = ["caption", "--no-progress"]
# free space left beside the filler: room for the first flushes and their
# checkpoints, not for all 60 images (the finished file is ~8.6 MB)
LEAVE = 9_000_000
CAPTION_LEAVE = 3_000_000  # room for a few caption batches, not all of them
WORDS = [
    "dog",
    "cat",
    "tree",
    "river",
    "mountain",
    "coffee",
    "bread",
    "car",
    "house",
    "bird",
    "boat",
    "flower",
    "child",
    "street",
    "book",
    "horse",
    "beach",
    "snow",
    "clock",
    "lamp",
]

RUNNER = textwrap.dedent(
    """
    import json, sys
    from evokegraph.graph.ladybug_store import LadybugStore
    from evokegraph.cli import main

    log, argv = sys.argv[1], sys.argv[2:]
    write = LadybugStore.write

    def logged(self, batch):
        out = write(self, batch)
        with open(log, "a") as f:
            f.write(json.dumps(sorted(e.image.id for e in batch.images)) + "\\n")
        return out

    LadybugStore.write = logged

    import dataclasses, os
    from evokegraph.captioning import runner as cr

    batch = int(os.environ.get("EVOKEGRAPH_TEST_CAPTION_BATCH", "0"))
    if batch:  # captions in several transactions, so some commit before the disk fills
        init = cr.Captioner.__init__

        def small(self, store, realizer, config=None, progress=None):
            config = dataclasses.replace(config or cr.CaptionConfig(), batch_size=batch)
            init(self, store, realizer, config, progress)

        cr.Captioner.__init__ = small
    sys.exit(main(argv))
    """
)


def _mount(where: Path, size: int) -> str:
    """'' when mounted, else why not."""
    if os.geteuid() != 0:
        return "needs root to mount a tmpfs"
    if shutil.which("mount") is None:
        return "no mount command"
    where.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    return "" if res.returncode == 0 else f"cannot mount a tmpfs: {res.stderr.strip()}"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    where = tmp_path / f"disk-{uuid.uuid4().hex[:8]}"
    why = _mount(where, DISK)
    if why:
        pytest.skip(why)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from PIL import Image

    root = tmp_path_factory.mktemp("full-disk-images")
    rng = random.Random(0)
    rows = []
    for i in range(N_IMAGES):
        p = root / f"img{i:04d}.jpg"
        Image.new("RGB", (32, 32), (i % 256, (i * 7) % 256, (i * 13) % 256)).save(p)
        caps = [" ".join(f"a {rng.choice(WORDS)}" for _ in range(3)) for _ in range(2)]
        rows.append({"path": p.name, "captions": caps})
    listing = root / "list.jsonl"
    listing.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return listing


def cli(*args: str, log: Path | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-c", RUNNER, str(log or os.devnull), *args]
    env = {**os.environ, "EVOKEGRAPH_TEST_CAPTION_BATCH": str(CAPTION_BATCH)}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)


@pytest.fixture(scope="module")
def reference(images: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("full-disk-ref") / "ref.kb"
    assert cli("--db", str(db), "init").returncode == 0
    res = cli("--db", str(db), "ingest", str(images), "--no-progress", *INGEST)
    assert res.returncode == 0, res.stderr
    return db


def _views(db: Path) -> dict[str, dict[str, Any]]:
    with LadybugStore(db, read_only=True) as kb:
        out = {}
        for image_id in kb.image_ids():
            view = kb.get_image(image_id)
            assert view is not None
            out[image_id] = view.model_dump(mode="json")
        return out


def _fill(disk: Path, leave: int) -> Path:
    free = shutil.disk_usage(disk).free
    filler = disk / "filler"
    with open(filler, "wb") as f:
        f.truncate(0)
        os.posix_fallocate(f.fileno(), 0, max(0, free - leave))
    return filler


def _one_line(res: subprocess.CompletedProcess[str]) -> str:
    text = (res.stdout + res.stderr).strip()
    assert "Traceback" not in text, text
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert len(lines) == 1, text
    return lines[0]


def test_ingest_on_a_full_disk(
    small_disk: Path, images: Path, reference: Path, tmp_path: Path
) -> None:
    db = small_disk / "kb.kb"
    assert cli("--db", str(db), "init").returncode == 0
    filler = _fill(small_disk, LEAVE)
    log = tmp_path / "flushes.jsonl"
    ingest = ["--db", str(db), "ingest", str(images), "--no-progress", *INGEST]

    res = cli(*ingest, log=log)
    assert res.returncode == 1, res.stdout + res.stderr
    line = _one_line(res)
    assert line.startswith("Error: the disk is full") and "free space" in line, line
    assert "run the same command again" in line

    # read-only commands open it (recovering it) and see every committed flush, whole
    committed = [i for ln in log.read_text().splitlines() for i in json.loads(ln)]
    assert 0 < len(committed) < N_IMAGES, "the disk filled before the first or after the last flush"
    stats = cli("--db", str(db), "stats", "--json")
    assert stats.returncode == 0, stats.stderr
    n = json.loads(stats.stdout)["images"]
    assert n >= len(committed) and n % FLUSH == 0, (n, len(committed))
    print(f"full disk: {len(committed)} images in flushes whose write returned, {n} visible")
    ref, got = _views(reference), _views(db)
    assert set(committed) <= set(got)
    for image_id, view in got.items():
        assert view == ref[image_id], f"image {image_id} differs from the reference"
    shown = cli("--db", str(db), "show", committed[0], "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["image"]["id"] == committed[0]
    rows = cli("--db", str(db), "cypher", "MATCH (i:Image) RETURN count(i) AS n", "--json")
    assert rows.returncode == 0 and json.loads(rows.stdout) == [{"n": n}]

    # space freed: the same command finishes, and nothing is lost
    filler.unlink()
    res = cli(*ingest)
    assert res.returncode == 0, res.stdout + res.stderr
    assert _views(db) == ref
    with LadybugStore(db, read_only=True) as kb, LadybugStore(reference, read_only=True) as rk:
        assert kb.stats().model_dump() | {"runs": 0} == rk.stats().model_dump() | {"runs": 0}


# -- caption, load, export ----------------------------------------------------


@pytest.fixture(scope="module")
def captioned(reference: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference KB captioned on a roomy disk."""
    db = tmp_path_factory.mktemp("full-disk-capref") / "ref.kb"
    shutil.copyfile(reference, db)
    res = cli("--db", str(db), *CAPTION)
    assert res.returncode == 0, res.stdout + res.stderr
    return db


def _captions(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Each image's captions (depth, text, path), sorted; images without any left out."""
    with LadybugStore(db, read_only=True) as kb:
        rows = kb.query(
            "MATCH (c:Caption)-[:DESCRIBES]->(i:Image) "
            "RETURN i.id AS image, c.depth AS depth, c.text AS text, c.id AS id"
        )
    out: dict[str, list[tuple[Any, ...]]] = {}
    for r in rows:
        out.setdefault(r["image"], []).append((r["depth"], r["text"], r["id"]))
    return {k: sorted(v) for k, v in sorted(out.items())}


def _captioned_stage(db: Path) -> set[str]:
    """Images whose caption stage key says they are done."""
    with LadybugStore(db, read_only=True) as kb:
        rows = kb.query("MATCH (i:Image) RETURN i.id AS id, i.stage_keys AS keys")
    return {r["id"] for r in rows if "captions:template" in str(r["keys"])}


def test_caption_on_a_full_disk(
    small_disk: Path, reference: Path, captioned: Path, tmp_path: Path
) -> None:
    db = small_disk / "kb.kb"
    shutil.copyfile(reference, db)
    filler = _fill(small_disk, CAPTION_LEAVE)
    log = tmp_path / "flushes.jsonl"
    res = cli("--db", str(db), *CAPTION, log=log)
    _says_disk_full(res)
    committed = [i for ln in log.read_text().splitlines() for i in json.loads(ln)]
    assert 0 < len(committed) < N_IMAGES, "the disk filled before the first or after the last batch"

    # read-only commands: they recover it, or say in one line to free space first
    _stats_once_freed(db, filler)
    ref, got = _captions(captioned), _captions(db)
    done = _captioned_stage(db)
    print(
        f"caption on a full disk: {len(committed)} images in batches whose write returned, "
        f"{len(done)} marked captioned, {len(got)} with captions"
    )
    # every batch whose write returned is there, whole; an image's captions are
    # all there or none (LadybugDB 0.22 may replay the stage keys of the batch
    # that failed without its Caption rows: the rerun redoes those images)
    assert set(committed) <= done and set(committed) <= set(got)
    for image_id, caps in got.items():
        assert caps == ref[image_id], f"image {image_id[:12]} has part of its captions"
    assert set(got) <= done

    # the same command finishes, and nothing is lost
    res = cli("--db", str(db), *CAPTION)
    assert res.returncode == 0, res.stdout + res.stderr
    assert _captions(db) == ref


def _stats_once_freed(db: Path, filler: Path) -> dict[str, Any]:
    """``stats`` on a full disk recovers the KB or says in one line to free space;
    once ``filler`` is removed it answers."""
    stats = cli("--db", str(db), "stats", "--json")
    if stats.returncode != 0:
        _says_disk_full(stats)
    filler.unlink()
    stats = cli("--db", str(db), "stats", "--json")
    assert stats.returncode == 0, stats.stdout + stats.stderr
    return dict(json.loads(stats.stdout))


def _says_disk_full(res: subprocess.CompletedProcess[str]) -> None:
    """Exit 1 and one line: the disk is full (or a replay needs space), free some, run again."""
    assert res.returncode == 1, res.stdout + res.stderr
    line = _one_line(res)
    assert line.startswith("Error: "), line
    assert "disk is full" in line or "needs free space" in line, line
    assert "free space" in line or "free some" in line, line
    assert "run the same command again" in line or "run this command again" in line, line


def _counts(db: Path) -> dict[str, Any]:
    with LadybugStore(db, read_only=True) as kb:
        return kb.stats().model_dump() | {"runs": 0, "ids": sorted(kb.image_ids())}


def test_load_on_a_full_disk(small_disk: Path, tmp_path: Path) -> None:
    """`load` of 10 shards (2,000 images) into a KB on a disk with 3 MB free:
    one line, exit 1; read-only commands open the KB; once space is freed the
    same command finishes and the KB equals a load on a roomy disk."""
    from test_bulk_load import entry, make_shards

    rng = random.Random(3)
    shards = tmp_path / "shards"
    make_shards(shards, [[entry(i, rng) for i in range(k, k + 200)] for k in range(0, 2000, 200)])
    roomy = tmp_path / "roomy.kb"
    assert cli("--db", str(roomy), "load", str(shards)).returncode == 0
    db = small_disk / "kb.kb"
    filler = _fill(small_disk, 3_000_000)

    _says_disk_full(cli("--db", str(db), "load", str(shards)))
    stats = _stats_once_freed(db, filler)
    print(f"load on a full disk: {stats['images']} images visible after it")
    res = cli("--db", str(db), "load", str(shards))
    assert res.returncode == 0, res.stdout + res.stderr
    assert _counts(db) == _counts(roomy)


def test_export_on_a_full_disk(small_disk: Path, captioned: Path, tmp_path: Path) -> None:
    """`export --format csv` onto a disk with 50 KB free (the files take ~200 KB):
    one line, exit 1; the KB is untouched and opens; once space is freed the
    same command writes what a roomy export writes."""
    roomy = tmp_path / "roomy"
    assert cli("--db", str(captioned), "export", str(roomy), "--format", "csv").returncode == 0
    before = _counts(captioned)
    filler = _fill(small_disk, 50_000)
    out = small_disk / "out"

    _says_disk_full(cli("--db", str(captioned), "export", str(out), "--format", "csv"))
    assert _counts(captioned) == before
    filler.unlink()
    res = cli("--db", str(captioned), "export", str(out), "--format", "csv")
    assert res.returncode == 0, res.stdout + res.stderr
    want = {p.name: p.read_bytes() for p in sorted(roomy.iterdir())}
    assert {p.name: p.read_bytes() for p in sorted(out.iterdir())} == want
