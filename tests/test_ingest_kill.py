"""A run SIGKILLed at any moment, then rerun, ends with the uninterrupted graph."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from evokegraph.graph.ladybug_store import LadybugStore

N_IMAGES = 8

SCRIPT = textwrap.dedent(
    """
    import sys, time
    from evokegraph.graph.ladybug_store import LadybugStore
    from evokegraph.ingest.runner import IngestConfig, ingest
    from evokegraph.ingest.stages import EXTRACTORS, MINERS, Extraction, Failed
    from evokegraph.records import Element, Evocation

    class Slow:
        name = "slow-words"
        def settings(self): return {}
        def extract(self, items):
            time.sleep(float(sys.argv[3]))
            out = []
            for it in items:
                if not it.record.captions:
                    out.append(Failed("no caption"))
                    continue
                ws = it.record.captions[0].split()
                out.append(Extraction(description=it.record.captions[0],
                    elements=[Element(name=w, concept=w, rank=i) for i, w in enumerate(ws)]))
            return out

    class Miner:
        name = "suffix"
        def settings(self): return {}
        def mine(self, items):
            return [[Evocation(element=e.concept, concept=f"{e.concept}-{d}", distance=d, weight=0.5)
                     for e in it.elements for d in range(1, 6)] for it in items]

    EXTRACTORS.add("slow-words", Slow)
    MINERS.add("suffix", Miner)
    with LadybugStore(sys.argv[1], create=True) as kb:
        ingest(kb, [sys.argv[2]], IngestConfig(extractor="slow-words", miner="suffix", batch_size=1, flush_every=1))
    print("done", flush=True)
    """
)


def make_images(d: Path) -> Path:
    d.mkdir()
    words = ["red", "green", "blue", "sky", "sea", "sand", "tree", "leaf", "rock", "moss"]
    for i in range(N_IMAGES):
        Image.new("RGB", (8, 8), (i * 30, 0, 0)).save(d / f"{i}.png")
        if i != 3:  # one image without caption: a recorded failure
            (d / f"{i}.txt").write_text(f"{words[i]} {words[i + 1]} shared")
    return d


def run(db: Path, images: Path, delay: float) -> subprocess.Popen[str]:
    script = db.parent / "run_ingest.py"
    script.write_text(SCRIPT)
    return subprocess.Popen(
        [sys.executable, str(script), str(db), str(images), str(delay)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def images_written(db: Path) -> int:
    try:
        with LadybugStore(db, read_only=True) as kb:
            return kb.stats().images
    except Exception:  # not created yet, or mid-creation
        return -1


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, snapshot) -> tuple[Path, dict[str, Any]]:
    base = tmp_path_factory.mktemp("ref")
    images = make_images(base / "imgs")
    proc = run(base / "ref.kb", images, 0.0)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    with LadybugStore(base / "ref.kb", read_only=True) as kb:
        return images, snapshot(kb)


@pytest.mark.parametrize("kill_after", ["start", 2, 5, N_IMAGES])
def test_sigkill_then_rerun_matches_uninterrupted(
    tmp_path: Path, reference: tuple[Path, dict[str, Any]], kill_after: str | int, snapshot
) -> None:
    images, expected = reference
    db = tmp_path / "k.kb"
    proc = run(db, images, 0.15)
    deadline = time.time() + 60
    if kill_after == "start":
        time.sleep(0.3)  # mid-import / mid-creation
    else:
        while images_written(db) < kill_after and proc.poll() is None and time.time() < deadline:
            time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    rerun = run(db, images, 0.0)
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    with LadybugStore(db, read_only=True) as kb:
        assert snapshot(kb) == expected
