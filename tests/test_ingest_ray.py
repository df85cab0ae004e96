"""Ray Data engine: same graph as the single-process runner; killed workers; resume."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from evokegraph.graph import bulk
from evokegraph.graph import shards as S
from evokegraph.graph.ladybug_store import LadybugStore
from evokegraph.ingest.runner import IngestConfig, ingest
from evokegraph.ingest.stages import make_extractor

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.ray

WORDS = [
    "red",
    "tree",
    "sky",
    "sea",
    "dog",
    "cat",
    "river",
    "mountain",
    "house",
    "bread",
    "coffee",
    "window",
]
N = 14


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    # the kill-once extractor below travels to the workers by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("imgs")
    for i in range(N):
        Image.new("RGB", (8, 8), (i * 15, 40, 0)).save(d / f"{i:02d}.png")
        if i != 4:  # one image without caption: a recorded failure
            w = [WORDS[i % 12], WORDS[(i + 3) % 12], WORDS[(i + 7) % 12]]
            (d / f"{i:02d}.txt").write_text(f"a {w[0]} and a {w[1]} near the {w[2]}")
    (d / "broken.png").write_bytes(b"not a png")  # a decode failure
    return d


CONFIG = IngestConfig(extractor="caption-text", miner="lexical", batch_size=3)


@pytest.fixture(scope="module")
def expected(images: Path, tmp_path_factory: pytest.TempPathFactory, snapshot) -> dict[str, Any]:
    db = tmp_path_factory.mktemp("ref") / "ref.kb"
    with LadybugStore(db, create=True) as kb:
        ingest(kb, [images], CONFIG)
        return snapshot(kb)


class ExitOnce:
    """An extractor whose worker process dies once, mid-job (marker file)."""

    def __init__(self, marker: str) -> None:
        self.inner = make_extractor("caption-text")
        self.name, self.marker = self.inner.name, marker

    def settings(self) -> dict[str, Any]:
        return self.inner.settings()

    def extract(self, items: Any) -> Any:
        if not os.path.exists(self.marker):
            Path(self.marker).write_text("died")
            os._exit(1)
        return self.inner.extract(items)


def run_ray(images: Path, shards: Path, **kw: Any) -> Any:
    from evokegraph.ingest.ray_engine import RayIngest, RayOptions

    job = RayIngest(
        CONFIG, RayOptions(shards=shards, workers=2, shard_size=4, cpus_per_worker=0.5), **kw
    )
    job.run([images])
    return job


def load_into(db: Path, shards: Path, **kw: Any) -> tuple[LadybugStore, bulk.LoadReport]:
    kb = LadybugStore(db, create=True)
    return kb, bulk.load(kb, S.open_shards(shards), **kw)


@pytest.fixture(scope="module")
def ray_shards(ray_cluster: None, images: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    shards = tmp_path_factory.mktemp("ray") / "shards"
    job = run_ray(images, shards)
    assert (job.shards_total, job.shards_run) == (4, 4)
    return shards


def test_ray_shards_load_to_the_single_process_graph(
    ray_shards: Path, expected: dict[str, Any], tmp_path: Path, snapshot
) -> None:
    kb, report = load_into(tmp_path / "copy.kb", ray_shards)
    with kb:
        assert report.mode == "copy"
        assert snapshot(kb) == expected
    # the normal idempotent path gives the same graph, and loading twice changes nothing
    kb, report = load_into(tmp_path / "inc.kb", ray_shards, force_incremental=True)
    with kb:
        assert report.mode == "incremental"
        bulk.load(kb, S.open_shards(ray_shards))
        assert snapshot(kb) == expected


def test_killed_worker_and_unfinished_shard_resume_to_the_same_graph(
    ray_cluster: None, images: Path, expected: dict[str, Any], tmp_path: Path, snapshot
) -> None:
    marker = tmp_path / "died"
    shards = tmp_path / "shards"
    run_ray(images, shards, extractor=ExitOnce(str(marker)))
    assert marker.exists()  # a worker really died mid-job
    # a shard left unfinished (as by a job killed while writing it) is redone, alone
    shutil.rmtree(shards / S.shard_name(2))
    with pytest.raises(Exception, match="unfinished"):
        S.open_shards(shards)
    job = run_ray(images, shards, extractor=ExitOnce(str(marker)))
    assert (job.shards_total, job.shards_run) == (4, 1)
    kb, _ = load_into(tmp_path / "k.kb", shards)
    with kb:
        assert snapshot(kb) == expected


def test_other_inputs_refuse_an_existing_shards_folder(ray_shards: Path, images: Path) -> None:
    from evokegraph.errors import UserInputError
    from evokegraph.ingest.ray_engine import RayIngest, RayOptions

    other = RayIngest(
        IngestConfig(extractor="caption-text", miner="lexical", limit=3),
        RayOptions(shards=ray_shards, shard_size=4),
    )
    with pytest.raises(UserInputError, match="another job"):
        other.run([images])
