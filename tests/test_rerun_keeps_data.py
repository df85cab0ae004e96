"""A failed stage never deletes stored data; failures clear when an image later
succeeds (issue 13, point 3)."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from evokegraph.graph.ladybug_store import LadybugStore
from evokegraph.ingest.runner import IngestConfig, ingest
from evokegraph.ingest.stages import Extraction, ImageItem, MiningInput
from evokegraph.records import Element, Evocation
from evokegraph.runs import Failed


class Words:
    """Every word of the first caption is an element; ``fail`` makes every answer fail."""

    name = "test-keep-words"

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def settings(self) -> dict[str, Any]:
        return {"v": 1}

    def extract(self, items: Sequence[ImageItem]) -> list[Extraction | Failed]:
        out: list[Extraction | Failed] = []
        for it in items:
            if self.fail or not it.record.captions:
                out.append(Failed("no caption" if not it.record.captions else "model unreachable"))
                continue
            words = it.record.captions[0].split()
            els = [Element(name=w, concept=w, rank=i) for i, w in enumerate(words)]
            out.append(Extraction(description=f"new: {it.record.captions[0]}", elements=els))
        return out


class Suffix:
    """word -> word+distance; ``fail`` makes every answer fail like an unreachable model."""

    name = "test-keep-suffix"

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def settings(self) -> dict[str, Any]:
        return {"v": 1}

    def mine(self, items: Sequence[MiningInput]) -> list[list[Evocation] | Failed]:
        if self.fail:
            return [Failed("ConnectError: connection refused after 5 tries") for _ in items]
        return [
            [
                Evocation(element=e.concept, concept=f"{e.concept}{d}", distance=d, weight=0.5)
                for e in it.elements
                for d in range(1, 6)
            ]
            for it in items
        ]


@pytest.fixture
def folder(jpeg: Callable[..., Path], tmp_path: Path) -> Path:
    d = tmp_path / "imgs"
    jpeg(d / "a.jpg", (255, 0, 0), "red square")
    jpeg(d / "b.jpg", (0, 255, 0), "green field")
    return d


def run(kb: Any, folder: Path, *, force: bool = False, **kw: Any) -> Any:
    return ingest(kb, [folder], IngestConfig(force=force), **kw)


def without_failures(snap: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in snap.items() if k != "failures"}
    out["stats"] = {k: v for k, v in snap["stats"].items() if k != "failures"}
    return out


def test_failed_mining_on_force_keeps_elements_and_associations(
    store: Any, folder: Path, snapshot: Any
) -> None:
    """Both backends (LadybugDB, and the Bolt server of the contract suite)."""
    kb = store
    run(kb, folder, extractor=Words(), miner=Suffix())
    before = snapshot(kb)
    assert before["stats"]["evokes"] == 20 and before["stats"]["elements"] == 4
    s = run(kb, folder, force=True, extractor=Words(), miner=Suffix(fail=True))
    assert s.failed == 2 and s.elements == 0 and s.associations == 0
    after = snapshot(kb)
    assert without_failures(after) == without_failures(before)  # descriptions included
    assert [f[1] for f in after["failures"]] == ["associations", "associations"]
    # a later successful run replaces the data and clears the failures
    s = run(kb, folder, force=True, extractor=Words(), miner=Suffix())
    assert s.failed == 0 and kb.failures() == []
    assert snapshot(kb)["stats"]["evokes"] == 20


def test_failed_extraction_on_force_keeps_everything(
    kb: LadybugStore, folder: Path, snapshot: Any
) -> None:
    run(kb, folder, extractor=Words(), miner=Suffix())
    before = snapshot(kb)
    s = run(kb, folder, force=True, extractor=Words(fail=True), miner=Suffix())
    assert s.failed == 2
    assert without_failures(snapshot(kb)) == without_failures(before)


def test_stale_associations_failing_keep_the_old_ones(
    kb: LadybugStore, folder: Path, snapshot: Any
) -> None:
    """A new miner (associations stale, elements kept) that fails changes nothing."""
    run(kb, folder, extractor=Words(), miner=Suffix())
    before = snapshot(kb)

    class Other(Suffix):
        name = "test-keep-other"

    run(kb, folder, extractor=Words(), miner=Other(fail=True))
    assert without_failures(snapshot(kb)) == without_failures(before)


def test_failures_clear_when_the_image_later_succeeds(
    jpeg: Callable[..., Path], store: Any, tmp_path: Path
) -> None:
    kb = store
    d = tmp_path / "imgs"
    jpeg(d / "a.jpg", (255, 0, 0), "red square")
    jpeg(d / "nocap.jpg", (9, 9, 9))
    (d / "bad.jpg").write_bytes(b"not a picture")
    run(kb, d, extractor=Words(), miner=Suffix())
    assert sorted((f.stage, Path(f.uri).name) for f in kb.failures()) == [
        ("decode", "bad.jpg"),
        ("elements", "nocap.jpg"),
    ]
    (d / "nocap.txt").write_text("grey square")  # the user fixes both
    jpeg(d / "bad.jpg", (1, 2, 3), "blue dot")
    s = run(kb, d, extractor=Words(), miner=Suffix())
    assert s.failed == 0
    assert kb.failures() == [] and kb.stats().failures == 0


def test_a_new_failure_in_the_same_run_stays(kb: LadybugStore, folder: Path) -> None:
    """Resolving happens before new failures are written: a stage that succeeds
    (elements) clears only its own failures, not the new one (associations)."""
    run(kb, folder, extractor=Words(fail=True), miner=Suffix())
    assert {f.stage for f in kb.failures()} == {"elements"}
    run(kb, folder, extractor=Words(), miner=Suffix(fail=True))
    assert {f.stage for f in kb.failures()} == {"associations"}


# -- the CLI, as the issue reported it: --miner llm --force, endpoint answering badly ----
EXE = Path(sys.executable).with_name("evokegraph")


@pytest.fixture
def bad_endpoint() -> Iterator[str]:
    """An OpenAI-compatible URL that answers every request with HTTP 400."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers.get("content-length") or 0))
            body = b'{"error": "model not loaded"}'
            self.send_response(400)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.mark.slow  # two ingests in fresh processes, the endpoint's retries (~60 s loaded)
@pytest.mark.skipif(not EXE.exists(), reason="the evokegraph entry point is not installed")
def test_cli_llm_force_with_a_failing_endpoint_keeps_associations(
    jpeg: Callable[..., Path], tmp_path: Path, bad_endpoint: str
) -> None:
    d = tmp_path / "imgs"
    jpeg(d / "a.jpg", (255, 0, 0), "a red cup on a wooden table")
    env = {**os.environ, "OPENAI_API_KEY": "test"}
    env.pop("EVOKEGRAPH_DB", None)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(EXE), "--db", str(tmp_path / "k.kb"), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )

    assert cli("init").returncode == 0
    assert cli("ingest", str(d), "--no-progress").returncode == 0
    before = json.loads(cli("stats", "--json").stdout)
    assert before["evokes"] > 0
    p = cli(
        "ingest", str(d), "--miner", "llm", "--llm", "openai:test-model",
        "--llm-base-url", bad_endpoint, "--force", "--no-progress",
    )  # fmt: skip
    assert p.returncode == 3 and "Traceback" not in p.stderr, p.stderr
    after = json.loads(cli("stats", "--json").stdout)
    assert {k: v for k, v in after.items() if k not in ("failures", "runs")} == {
        k: v for k, v in before.items() if k not in ("failures", "runs")
    }
    assert after["failures"] == 1  # (clearing it on success: the library tests above)
