"""Shared fixtures. Heavy libraries are imported lazily; torch runs on one thread."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

try:  # keep CI's two cores for pytest itself
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover - the dev extra installs torch
    pass

from evokegraph.graph.ladybug_store import LadybugStore  # noqa: E402
from evokegraph.graph.store import GraphStore, StoreConfig, open_store  # noqa: E402
from evokegraph.ingest.stages import EXTRACTORS, MINERS, Extraction, ImageItem, MiningInput
from evokegraph.records import Element, Evocation  # noqa: E402
from evokegraph.runs import Failed

# -- the fast loop's order -----------------------------------------------------------
# `make test-fast` runs pytest-xdist with --dist loadfile --no-loadscope-reorder: whole
# files go to the two workers in the order the workers collected them (xdist's own
# order, most tests first, put files of many quick tests before a few long ones). A
# long file handed out last leaves the other worker idle until it ends, so the files
# that take longest (worker-seconds, measured with --durations) go first, longest
# first; the short ones fill in after.
LONG_FILES = (
    "test_cli_usage.py",
    "test_captioning.py",
    "test_query_limits.py",
    "test_store_contract.py",  # with the other BOLT_FILES
    "test_explorer_fuzz.py",
    "test_properties.py",
    "test_content.py",
    "test_ingest_runner.py",
    "test_queries.py",
)
# The files whose fast tests talk to the live Bolt server: one unit of work for xdist,
# so that one worker starts the server (a JVM, about 10 s), not both.
BOLT_FILES = frozenset(
    {
        "test_store_contract.py",
        "test_rerun_keeps_data.py",
        "test_cli_backends.py",
        "test_cypher_dialect.py",
    }
)


def _rank(name: str) -> int:
    key = "test_store_contract.py" if name in BOLT_FILES else name
    return LONG_FILES.index(key) if key in LONG_FILES else len(LONG_FILES)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In pytest-xdist's workers (they collect; the controller hands out what they
    collected) the long files first, each file's own order kept; a serial run
    (``make test``) keeps the plain order."""
    if hasattr(config, "workerinput"):
        items.sort(key=lambda it: _rank(it.path.name))


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """--dist loadfile with the BOLT_FILES handed out as one unit."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class FastLoopScheduling(LoadFileScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            scope = str(super()._split_scope(nodeid))
            return "bolt-server" if scope.rsplit("/", 1)[-1] in BOLT_FILES else scope

    return FastLoopScheduling(config, log)


# -- fake ingest stages, shared by the runner, CLI and pairs tests -------------
class WordsExtractor:
    """Fake extractor: every word of the first caption is an element; an image
    without a caption fails like a caption-text extractor does."""

    name = "test-words"
    calls = 0

    def settings(self) -> dict[str, Any]:
        return {"v": 1}

    def extract(self, items: Sequence[ImageItem]) -> list[Extraction | Failed]:
        WordsExtractor.calls += len(items)
        out: list[Extraction | Failed] = []
        for it in items:
            if not it.record.captions:
                out.append(Failed("no caption; use --extractor vlm"))
                continue
            words = it.record.captions[0].split()
            out.append(
                Extraction(
                    description=it.record.captions[0],
                    elements=[Element(name=w, concept=w, rank=i) for i, w in enumerate(words)],
                )
            )
        return out


class SuffixMiner:
    """Fake miner: word -> word-d at distance d (weight falls with distance);
    an element 'broken' fails like a bad model answer."""

    name = "test-suffix"

    def settings(self) -> dict[str, Any]:
        return {"v": 1}

    def mine(self, items: Sequence[MiningInput]) -> list[list[Evocation] | Failed]:
        out: list[list[Evocation] | Failed] = []
        for it in items:
            if any(e.concept == "broken" for e in it.elements):
                out.append(Failed("malformed answer: truncated JSON", raw='{"broken": [1, 2'))
                continue
            out.append(
                [
                    Evocation(
                        element=e.concept, concept=f"{e.concept}-{d}", distance=d, weight=1 - d / 10
                    )
                    for e in it.elements
                    for d in range(1, 6)
                ]
            )
        return out


FAKE_STAGES = {"extractor": "test-words", "miner": "test-suffix"}


@pytest.fixture
def fake_stages() -> Iterator[dict[str, str]]:
    """IngestConfig / CLI settings for the fake stages above, registered for this test
    only (removed after; call counter reset)."""
    WordsExtractor.calls = 0
    with (
        EXTRACTORS.registered("test-words", WordsExtractor),
        MINERS.registered("test-suffix", SuffixMiner),
    ):
        yield dict(FAKE_STAGES)


@pytest.fixture
def words_extractor(fake_stages: dict[str, str]) -> type[WordsExtractor]:
    """The fake extractor class (registered as ``test-words``), its call counter reset."""
    return WordsExtractor


@pytest.fixture
def kb_path(tmp_path: Path) -> Path:
    return tmp_path / "test.kb"


@pytest.fixture
def kb(kb_path: Path) -> Iterator[LadybugStore]:
    """A fresh embedded knowledge base."""
    store = LadybugStore(kb_path, create=True)
    try:
        yield store
    finally:
        store.close()


def neo4j_settings() -> dict[str, str] | None:
    uri = os.environ.get("EVOKEGRAPH_NEO4J_URI")
    if not uri:
        return None
    return {
        "uri": uri,
        "user": os.environ.get("EVOKEGRAPH_NEO4J_USER", "neo4j"),
        "password": os.environ.get("EVOKEGRAPH_NEO4J_PASSWORD", ""),
    }


@pytest.fixture(scope="session")
def bolt_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A live Bolt server for the whole session: uri, user, password.

    A real Neo4j when EVOKEGRAPH_NEO4J_URI is set (its database is wiped by
    the tests: point it at a throwaway one); otherwise ArcadeDB's Bolt server
    from the ``server`` extra (installed by ``make test``), started on a free
    127.0.0.1 port in a temp dir and stopped by its pid at the end.
    """
    cfg = neo4j_settings()
    if cfg is not None:
        yield cfg
        return
    from evokegraph.errors import StoreError
    from evokegraph.graph import server

    try:
        server.runtime()
    except StoreError as exc:
        pytest.skip(f"no Bolt server: {exc}")
    root = tmp_path_factory.mktemp("arcadedb")
    info = server.start(root, bolt_port=0, http_port=0, heap="512m", detach=False)
    try:
        yield {"uri": info.uri, "user": info.user, "password": info.password}
    finally:
        server.stop(root)


def fresh_neo4j(cfg: dict[str, str], *, schema: bool = True) -> object:
    """A Neo4jStore on the live server with every node deleted (and the schema
    stamped again when ``schema``)."""
    from evokegraph.graph.neo4j_store import Neo4jStore

    s = Neo4jStore.connect(cfg["uri"], cfg["user"], cfg["password"], create=True)
    s.wipe()
    if schema:
        s.ensure_schema()
    return s


@pytest.fixture(params=["ladybug", "neo4j"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """Every backend, for the contract suite: LadybugDB and the live Bolt server
    (database wiped before each test)."""
    if request.param == "ladybug":
        s = LadybugStore(tmp_path / "contract.kb", create=True)
    else:
        s = fresh_neo4j(request.getfixturevalue("bolt_server"))
    try:
        yield s
    finally:
        s.close()


@dataclass
class Backend:
    """One store for CLI and subprocess tests: its global CLI options and config."""

    name: str
    config: StoreConfig

    @property
    def args(self) -> list[str]:
        """Global options that select this store (they go before the command)."""
        c = self.config
        if c.backend == "ladybug":
            return ["--db", c.path]
        return [
            "--backend",
            "neo4j",
            "--neo4j-uri",
            c.uri,
            "--neo4j-user",
            c.user,
            "--neo4j-password",
            c.password,
        ]

    def open(self, **overrides: object) -> GraphStore:
        return open_store(StoreConfig(**{**self.config.__dict__, **overrides}))


@pytest.fixture(params=["ladybug", "neo4j"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """An empty store on each backend, not yet initialised (``init`` creates it):
    a fresh LadybugDB path, or the live Bolt server with every node deleted."""
    if request.param == "ladybug":
        return Backend("ladybug", StoreConfig(backend="ladybug", path=str(tmp_path / "k.kb")))
    cfg = request.getfixturevalue("bolt_server")
    fresh_neo4j(cfg, schema=False).close()
    return Backend(
        "neo4j",
        StoreConfig(backend="neo4j", uri=cfg["uri"], user=cfg["user"], password=cfg["password"]),
    )


def graph_snapshot(kb: GraphStore) -> dict[str, object]:
    """Everything a knowledge base holds except provenance (Run nodes, run ids,
    failure timestamps), as sorted values: two snapshots are equal exactly when
    the graphs are."""
    import json

    q = kb.query

    def rows(cypher: str) -> list[tuple[object, ...]]:
        return sorted(tuple(json.dumps(v, sort_keys=True) for v in r.values()) for r in q(cypher))

    return {
        "stats": {k: v for k, v in kb.stats().model_dump().items() if k != "runs"},
        "images": rows(
            "MATCH (i:Image) RETURN i.id, i.uris, i.captions, i.stage_keys, i.description"
        ),
        "elements": rows(
            "MATCH (i:Image)-[:HAS_ELEMENT]->(e:Element)-[:IS]->(c:Concept) "
            "RETURN i.id, e.id, c.name, e.rank"
        ),
        "evokes": rows(
            "MATCH (e:Element)-[v:EVOKES]->(c:Concept) RETURN e.id, c.name, v.distance, v.weight, v.rank"
        ),
        "assoc": rows(
            "MATCH (a:Concept)-[r:ASSOCIATED_WITH]->(b:Concept) "
            "RETURN a.name, b.name, r.distance, r.support, r.weight"
        ),
        "concepts": rows("MATCH (c:Concept) RETURN c.name, c.concreteness"),
        "failures": sorted((f.uri, f.stage, f.reason) for f in kb.failures()),
    }


@pytest.fixture(scope="session")
def snapshot():
    """The :func:`graph_snapshot` function, for tests comparing whole graphs."""
    return graph_snapshot


# a tiny open_clip model (random weights) as a local folder: `local-dir:` spec
TINY_CLIP = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16, "head_width": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture
def tiny_clip(tmp_path: Path) -> str:
    d = tmp_path / "clip"
    d.mkdir()
    (d / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY_CLIP}))
    return f"local-dir:{d}"


def _jpeg(path: Path, color: tuple[int, int, int], caption: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (16, 16), color).save(path, "JPEG")
    if caption is not None:
        path.with_suffix(".txt").write_text(caption)
    return path


@pytest.fixture
def jpeg() -> Callable[..., Path]:
    """``jpeg(path, color, caption=None)``: a 16x16 JPEG, its caption in a sidecar .txt."""
    return _jpeg


# -- the bundled sample, ingested once per session --------------------------------
@contextmanager
def _shared_once(name: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder ``name`` shared by every pytest-xdist worker of this run (the
    session's own temp dir without xdist), held under a file lock: the first
    worker builds what it holds, the others wait and find it built."""
    import fcntl

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the workers' temp dirs share this parent
    folder = base / name
    with open(base / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            folder.mkdir(exist_ok=True)
            yield folder
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def ingested_sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The bundled sample written and ingested once per run with the offline
    defaults (caption-text + contextual): (the closed .kb file, the sample folder).
    Built by the first pytest-xdist worker that asks, shared with the others.
    Tests take a private copy with :func:`sample_kb`, never this file."""
    from evokegraph.ingest.runner import IngestConfig, ingest
    from evokegraph.ingest.sample import write_sample

    with _shared_once("ingested_sample", tmp_path_factory) as root:
        kb_path, done = root / "sample.kb", root / "built"
        if not done.exists():  # (a worker that failed half-way left no marker)
            shutil.rmtree(root)
            root.mkdir()
            write_sample(root / "sample")
            with LadybugStore(kb_path, create=True) as kb:
                s = ingest(kb, [root / "sample"], IngestConfig())
                assert s.failed == 0 and s.new > 0
            done.touch()
    return kb_path, root / "sample"


def copy_kb(src: Path, dest: Path) -> Path:
    """A private copy of a closed LadybugDB file (and its side files) in ``dest``."""
    import shutil

    dest.mkdir(parents=True, exist_ok=True)
    for f in src.parent.glob(src.name + "*"):
        shutil.copy2(f, dest / f.name)
    return dest / src.name


@pytest.fixture
def sample_kb(ingested_sample: tuple[Path, Path], tmp_path: Path) -> Path:
    """This test's own copy of the ingested sample (a .kb path, closed)."""
    return copy_kb(ingested_sample[0], tmp_path / "sample_kb")
