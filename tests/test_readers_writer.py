"""Readers beside a writer (issue 24): while `ingest` writes into a knowledge
base (a subprocess, one transaction per flush of ``FLUSH`` images), read-only
opens, `stats`, `show`, `cypher` and the explorer keep answering, and no read
sees half a flush: every snapshot holds whole flushes (a multiple of
``FLUSH`` images), each image with exactly the elements and associations it
has once the writer is done.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from serving import start

from evokegraph.graph.ladybug_store import LadybugStore

pytestmark = pytest.mark.slow

N_IMAGES = 160  # enough flushes that reads land mid-run on an idle machine too
FLUSH = 4
INGEST = ["--miner", "lexical", "--tagger", "heuristic", "--flush-every", str(FLUSH)]
WORDS = ["dog", "cat", "tree", "river", "coffee", "bread", "car", "house", "bird", "boat"]
Q_SHAPE = (
    "MATCH (i:Image) OPTIONAL MATCH (i)-[:HAS_ELEMENT]->(e:Element) "
    "OPTIONAL MATCH (e)-[v:EVOKES]->(:Concept) "
    "RETURN i.id AS id, count(DISTINCT e) AS elements, count(v) AS evokes ORDER BY id"
)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "evokegraph.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def listing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from PIL import Image

    root = tmp_path_factory.mktemp("rw-images")
    rows = []
    for i in range(N_IMAGES):
        p = root / f"img{i:03d}.png"
        Image.new("RGB", (16, 16), (i, 255 - i, (7 * i) % 256)).save(p)  # distinct content
        words = [WORDS[(i + k) % len(WORDS)] for k in range(3)]
        rows.append(
            {"path": p.name, "captions": [f"a {words[0]} by a {words[1]} and a {words[2]}"]}
        )
    out = root / "list.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return out


def _snapshot(db: Path) -> dict[str, tuple[int, int]]:
    with LadybugStore(db, read_only=True) as kb:
        return {r["id"]: (r["elements"], r["evokes"]) for r in kb.query(Q_SHAPE)}


def test_readers_beside_a_writer(listing: Path, tmp_path: Path) -> None:
    import http.client

    db = tmp_path / "kb.kb"
    assert cli("--db", str(db), "init").returncode == 0
    writer = subprocess.Popen(
        [sys.executable, "-m", "evokegraph.cli", "--db", str(db), "ingest", str(listing),
         "--no-progress", *INGEST],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    snapshots: list[dict[str, tuple[int, int]]] = []
    commands: list[tuple[str, int, str]] = []
    web: list[tuple[int, int]] = []
    port = _serve(db)

    def command_reads() -> None:  # the CLI and the explorer, beside the snapshots
        while writer.poll() is None:
            s = cli("--db", str(db), "stats", "--json")
            commands.append(("stats", s.returncode, s.stdout + s.stderr))
            ids = sorted(snapshots[-1]) if snapshots else []
            if ids:
                s = cli("--db", str(db), "show", ids[0][:12], "--json")
                commands.append(("show", s.returncode, s.stdout + s.stderr))
            s = cli("--db", str(db), "cypher", "MATCH (i:Image) RETURN count(i) AS n", "--json")
            commands.append(("cypher", s.returncode, s.stdout + s.stderr))
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", "/api/images?per_page=1")
            res = conn.getresponse()
            body = json.loads(res.read())
            conn.close()
            web.append((res.status, int(body.get("total", -1))))

    side = threading.Thread(target=command_reads)
    side.start()
    try:
        while writer.poll() is None:  # read-only opens, as often as they go
            snapshots.append(_snapshot(db))
    finally:
        out, err = writer.communicate(timeout=600)
        side.join(600)
    assert writer.returncode == 0, err
    final = _snapshot(db)
    assert len(final) == N_IMAGES

    # every read answered
    bad = [(name, code, text[-300:]) for name, code, text in commands if code != 0]
    assert not bad, bad
    assert web and all(status == 200 for status, _ in web), web
    # ... and saw whole flushes only, each image whole
    sizes = [len(s) for s in snapshots]
    print(f"readers beside a writer: {len(snapshots)} snapshots, images seen {sorted(set(sizes))}")
    assert any(0 < n < N_IMAGES for n in sizes), f"no read landed mid-run: {sizes}"
    for snap in snapshots:
        assert len(snap) % FLUSH == 0, sorted(snap)
        for image_id, shape in snap.items():
            assert shape == final[image_id], (image_id, shape, final[image_id])
    for name, _, text in commands:
        if name == "stats":
            assert json.loads(text)["images"] % FLUSH == 0
        if name == "cypher":
            assert json.loads(text)[0]["n"] % FLUSH == 0
    assert all(total % FLUSH == 0 for _, total in web)
    growing = [len(s) for s in snapshots]
    assert growing == sorted(growing), growing  # never goes back


_SERVERS: list[Any] = []


def _serve(db: Path) -> int:
    """The explorer on ``db`` in this process (read-only, beside the writer)."""

    from evokegraph.graph.store import StoreConfig
    from evokegraph.queries.web.app import create_app

    app = create_app(StoreConfig(path=str(db)), thumbs_dir=db.parent / "thumbs")
    srv, _, port = start(app)
    _SERVERS.append(srv)
    return port


@pytest.fixture(autouse=True)
def _stop_servers() -> Any:
    yield
    for srv in _SERVERS:
        srv.should_exit = True
    _SERVERS.clear()


# -- the Bolt backend: two writers and a reader -----------------------------------


def test_two_writers_and_a_reader_on_bolt(
    listing: Path, tmp_path: Path, bolt_server: dict[str, str]
) -> None:
    """Two ingests of disjoint halves of the images write into one Bolt
    knowledge base at once while a reader polls it: the reader sees whole
    flushes only, each image as it ends up; both writers finish; nothing is
    lost."""
    import os

    from evokegraph.graph.neo4j_store import Neo4jStore

    cfg = (bolt_server["uri"], bolt_server["user"], bolt_server["password"])
    with Neo4jStore.connect(*cfg, create=True) as fresh:  # a throwaway database: wiped
        fresh.wipe()
        fresh.ensure_schema()
    rows = listing.read_text(encoding="utf-8").splitlines()
    halves = []
    for k in range(2):
        part = listing.parent / f"half{k}.jsonl"
        part.write_text("\n".join(rows[k::2]) + "\n", encoding="utf-8")
        halves.append(part)
    env = {
        **os.environ,
        "EVOKEGRAPH_NEO4J_URI": bolt_server["uri"],
        "EVOKEGRAPH_NEO4J_USER": bolt_server["user"],
        "EVOKEGRAPH_NEO4J_PASSWORD": bolt_server["password"],
    }
    writers = [
        subprocess.Popen(
            [sys.executable, "-m", "evokegraph.cli", "--backend", "neo4j", "ingest", str(h),
             "--no-progress", *INGEST],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        for h in halves
    ]  # fmt: skip
    snapshots: list[dict[str, tuple[int, int]]] = []
    kb = Neo4jStore.connect(*cfg)
    try:
        while any(w.poll() is None for w in writers):
            snapshots.append({r["id"]: (r["elements"], r["evokes"]) for r in kb.query(Q_SHAPE)})
            time.sleep(0.2)
        final = {r["id"]: (r["elements"], r["evokes"]) for r in kb.query(Q_SHAPE)}
    finally:
        kb.close()
    for w in writers:
        _, err = w.communicate(timeout=600)
        assert w.returncode == 0, err[-2000:]
    assert len(final) == N_IMAGES
    sizes = [len(s) for s in snapshots]
    print(f"readers beside a writer: {len(snapshots)} snapshots, images seen {sorted(set(sizes))}")
    assert any(0 < n < N_IMAGES for n in sizes), f"no read landed mid-run: {sizes}"
    for snap in snapshots:
        assert len(snap) % FLUSH == 0, len(snap)
        for image_id, shape in snap.items():
            assert shape == final[image_id], (image_id, shape, final[image_id])
