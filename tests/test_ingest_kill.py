"""A run SIGKILLed at any moment, then rerun, ends with the uninterrupted graph;
two runs writing into one Bolt server at once end with that graph too.

Both backends: LadybugDB and the live Bolt server of the ``bolt_server``
fixture. The expected graph is always LadybugDB's uninterrupted run, so the
Neo4j-protocol runs are also checked against the embedded backend."""

from __future__ import annotations

import json
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
from evokegraph.graph.store import StoreConfig

pytestmark = pytest.mark.slow  # each test kills or runs whole ingests: `make test` runs them

N_IMAGES = 8

SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from evokegraph.graph.store import StoreConfig, open_store
    from evokegraph.ingest.runner import IngestConfig, ingest
    from evokegraph.ingest.stages import EXTRACTORS, MINERS, Extraction
    from evokegraph.runs import Failed
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
    if len(sys.argv) > 4:  # a common start time: concurrent writers in step
        time.sleep(max(0.0, float(sys.argv[4]) - time.time()))
    with open_store(StoreConfig(**json.loads(sys.argv[1])), create=True) as kb:
        ingest(kb, [sys.argv[2]], IngestConfig(extractor="slow-words", miner="suffix", batch_size=1, flush_every=1))
        print("done, write retries:", getattr(kb, "write_retries", 0), flush=True)
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


def run(
    store: StoreConfig, workdir: Path, images: Path, delay: float, start_at: float = 0.0
) -> subprocess.Popen[str]:
    script = workdir / "run_ingest.py"
    script.write_text(SCRIPT)
    args = [json.dumps(store.as_dict()), str(images), str(delay), str(start_at)]
    return subprocess.Popen(
        [sys.executable, str(script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def images_written(backend: Any) -> int:
    try:
        with backend.open(read_only=True) as kb:
            return kb.stats().images
    except Exception:  # not created yet, or mid-creation
        return -1


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, snapshot) -> tuple[Path, dict[str, Any]]:
    base = tmp_path_factory.mktemp("ref")
    images = make_images(base / "imgs")
    proc = run(StoreConfig(path=str(base / "ref.kb")), base, images, 0.0)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    with LadybugStore(base / "ref.kb", read_only=True) as kb:
        return images, snapshot(kb)


@pytest.mark.parametrize("kill_after", ["start", 2, 5, N_IMAGES])
def test_sigkill_then_rerun_matches_uninterrupted(
    tmp_path: Path,
    reference: tuple[Path, dict[str, Any]],
    kill_after: str | int,
    snapshot,
    backend: Any,
) -> None:
    images, expected = reference
    proc = run(backend.config, tmp_path, images, 0.15)
    deadline = time.time() + 60
    if kill_after == "start":
        time.sleep(0.3)  # mid-import / mid-creation
    else:
        while (
            images_written(backend) < kill_after and proc.poll() is None and time.time() < deadline
        ):
            time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    rerun = run(backend.config, tmp_path, images, 0.0)
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    with backend.open(read_only=True) as kb:
        assert snapshot(kb) == expected


@pytest.mark.parametrize("backend", ["neo4j"], indirect=True)
def test_two_writers_into_one_server(
    tmp_path: Path, reference: tuple[Path, dict[str, Any]], snapshot, backend: Any
) -> None:
    """Two ingest processes over the same images at once, one Bolt server: no
    duplicate and no lost image, element or edge (conflicting MERGEs are retried)."""
    images, expected = reference
    procs = []
    start_at = time.time() + 8  # both past their imports, then writing in step
    for i in range(2):
        (tmp_path / f"w{i}").mkdir()
        procs.append(run(backend.config, tmp_path / f"w{i}", images, 0.0, start_at))
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
        print(out.strip())  # how many conflicting writes were retried (timing-dependent)
    with backend.open(read_only=True) as kb:
        assert snapshot(kb) == expected
        dupes = kb.query(
            "MATCH (n) WHERE n:Image OR n:Element OR n:Concept "
            "WITH coalesce(n.id, n.name) AS k, count(*) AS c WHERE c > 1 RETURN k"
        )
        assert dupes == []
        assert kb.stats().runs == 2
