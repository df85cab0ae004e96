"""Ray Data engine: same graph as the single-process runner; killed workers; resume."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest
from PIL import Image

from evokegraph.graph import bulk
from evokegraph.graph import shards as S
from evokegraph.graph.ladybug_store import LadybugStore
from evokegraph.ingest.runner import IngestConfig, ingest
from evokegraph.ingest.stages import BY_NAME, Backends, make_extractor

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


def run_ray(images: Path, shards: Path, given: Backends = BY_NAME) -> Any:
    from evokegraph.ingest.ray_engine import RayIngest, RayOptions

    job = RayIngest(
        CONFIG, RayOptions(shards=shards, workers=2, shard_size=4, cpus_per_worker=0.5), given
    )
    job.started = time.time()
    job.summary = job.run([images])
    job.ended = time.time()
    return job


def load_into(db: Path, shards: Path, **kw: Any) -> tuple[LadybugStore, bulk.LoadReport]:
    kb = LadybugStore(db, create=True)
    return kb, bulk.load(kb, S.open_shards(shards), **kw)


@pytest.fixture(scope="module")
def ray_shards(ray_cluster: None, images: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    shards = tmp_path_factory.mktemp("ray") / "shards"
    job = run_ray(images, shards)
    assert (job.shards_total, job.shards_run) == (4, 4)
    # each actor that took a batch says once when its models were loaded (2 per stage)
    ready = job.summary.ready
    assert sorted(ready) == ["associations", "elements"]
    assert all(
        1 <= len(v) <= 2 and job.started < min(v) <= max(v) < job.ended for v in ready.values()
    )
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
    run_ray(images, shards, Backends(extractor=ExitOnce(str(marker))))
    assert marker.exists()  # a worker really died mid-job
    # a shard left unfinished (as by a job killed while writing it) is redone, alone
    shutil.rmtree(shards / S.shard_name(2))
    with pytest.raises(Exception, match="unfinished"):
        S.open_shards(shards)
    job = run_ray(images, shards, Backends(extractor=ExitOnce(str(marker))))
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


def test_images_the_kb_holds_are_skipped_unless_force(
    ray_cluster: None, images: Path, expected: dict[str, Any], tmp_path: Path, snapshot
) -> None:
    from evokegraph.ingest.ray_engine import RayIngest, RayOptions

    opts = {"workers": 2, "shard_size": 4, "cpus_per_worker": 0.5}
    with LadybugStore(tmp_path / "k.kb", create=True) as kb:
        ingest(kb, [images], dataclasses.replace(CONFIG, limit=8))  # part of it done before
        assert len(kb.image_ids()) == 8  # 00..07; 04 has no caption: its extraction failed
        job = RayIngest(CONFIG, RayOptions(shards=tmp_path / "s", **opts))
        s = job.run([images], store=kb)  # the driver looks the stored keys up per shard
        assert (s.skipped, s.new) == (7, N - 8)
        shards = S.open_shards(tmp_path / "s")
        computed = shards.table("images").filter(pc.field("stage_keys") != "{}").num_rows
        assert computed == N - 8  # 04 fails again; the skipped ones carry their record only
        report = bulk.load(kb, shards)
        assert report.mode == "incremental"
        assert snapshot(kb) == expected
        force = dataclasses.replace(CONFIG, force=True)
        s = RayIngest(force, RayOptions(shards=tmp_path / "f", **opts)).run([images], store=kb)
        assert (s.skipped, s.new) == (0, 0)


def test_stale_associations_are_mined_from_stored_elements_by_both_executors(
    ray_cluster: None, images: Path, tmp_path: Path, snapshot
) -> None:
    """Elements current, associations stale (other miner settings): both executors
    mine the stored elements again, extract nothing, and end with the same graph."""
    from evokegraph.ingest.ray_engine import RayIngest, RayOptions

    first = dataclasses.replace(CONFIG, miner_options={"per_distance": 2})
    second = dataclasses.replace(first, miner_options={})
    graphs = []
    for engine in ("local", "ray"):
        with LadybugStore(tmp_path / f"{engine}.kb", create=True) as kb:
            ingest(kb, [images], first)
            if engine == "local":
                s = ingest(kb, [images], second)
            else:
                opts = RayOptions(
                    shards=tmp_path / "s", workers=1, shard_size=4, cpus_per_worker=0.5
                )
                s = RayIngest(second, opts).run([images], store=kb)
                bulk.load(kb, S.open_shards(tmp_path / "s"))
            # 04 (no caption) is extracted again and fails: nothing stored to mine
            assert s.associations > 0 and s.elements == 0 and s.failures_by_stage["elements"] == 1
            graphs.append(snapshot(kb))
    assert graphs[0] == graphs[1]


# -- vLLM through Ray Data's LLM processor, with a stand-in processor -----------
def _fake_answer(messages: list[dict[str, Any]], params: dict[str, Any]) -> str:
    """What a model would answer: elements from the caption words, associations by word."""
    content = messages[-1]["content"]
    text = content if isinstance(content, str) else content[0]["text"]
    schema = params["structured_outputs"]["json"]
    if "description" in schema["properties"]:
        words = [w for w in WORDS if f" {w} " in text.replace("|", " ")]
        return json.dumps(
            {
                "description": "seen: " + " ".join(words),
                "elements": [{"name": w, "pos": "NOUN", "salience": 0.9} for w in words],
            }
        )
    first = text.split("seen: ")[1].split()[0] if "seen: " in text else "none"
    return json.dumps(
        {
            w: {f"distance {d}": [f"{w}-{first}-{d}"] for d in range(1, 6)}
            for w in schema["required"]
        }
    )


class FakeChat:
    """The in-process engine answering like the stand-in processor (the local reference)."""

    def __init__(self, spec: str) -> None:
        self.spec = spec

    def generate(self, requests: Any) -> list[Any]:
        from evokegraph.models.chat import ChatResult

        return [
            ChatResult(
                text=_fake_answer(r.messages, {"structured_outputs": {"json": r.json_schema}})
            )
            for r in requests
        ]


def _stand_in_row(row: dict[str, Any]) -> dict[str, Any]:
    from evokegraph.ingest import ray_llm

    req = ray_llm.preprocess(row)
    answer = _fake_answer(req["messages"], req["sampling_params"]) if row["llm_request"] else "."
    return ray_llm.postprocess(
        {**req, "generated_text": answer, "num_input_tokens": 7, "num_generated_tokens": 3}
    )


def test_vllm_backends_run_through_the_llm_processor_to_the_local_graph(
    ray_cluster: None, images: Path, tmp_path: Path, snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evokegraph.ingest import ray_llm
    from evokegraph.ingest.models.backends import LLMMiner, VLMExtractor
    from evokegraph.ingest.ray_engine import RayIngest, RayOptions

    config = IngestConfig(
        extractor="vlm",
        miner="llm",
        extractor_options={"spec": "vllm:fake-vlm", "top_k": 3, "dtype": "bfloat16"},
        miner_options={"spec": "vllm:fake-llm"},
        batch_size=3,
    )
    built: list[tuple[str, str]] = []

    def stand_in(cfg: Any, stage: str, spec: str, workers: int, gpus: float) -> Any:
        # the real config is built (ray.data.llm), only the processor is a stand-in
        conf = ray_llm.processor_config(cfg, stage, spec, workers, gpus)
        built.append((stage, conf.model_source))
        return lambda ds: ds.map(_stand_in_row, num_cpus=0.25)

    monkeypatch.setattr(ray_llm, "processor", stand_in)
    job = RayIngest(
        config, RayOptions(shards=tmp_path / "s", workers=2, shard_size=4, cpus_per_worker=0.5)
    )
    s = job.run([images])
    assert built == [("elements", "fake-vlm"), ("associations", "fake-llm")]
    assert s.associations > 0 and s.failures_by_stage["decode"] == 1
    with LadybugStore(tmp_path / "ray.kb", create=True) as kb:
        bulk.load(kb, S.open_shards(tmp_path / "s"))
        got = snapshot(kb)
    with LadybugStore(tmp_path / "local.kb", create=True) as kb:
        ingest(
            kb,
            [images],
            dataclasses.replace(config, extractor_options={}, miner_options={}),
            extractor=VLMExtractor(engine=FakeChat("vllm:fake-vlm"), top_k=3, cache="off"),
            miner=LLMMiner(engine=FakeChat("vllm:fake-llm"), cache="off"),
        )
        want = snapshot(kb)
    assert got == want  # each answer reached its own image (answers differ per image)


def test_cli_ray_engine_skips_on_a_second_run(
    ray_cluster: None, images: Path, expected: dict[str, Any], tmp_path: Path, snapshot, capsys
) -> None:
    from evokegraph.cli import main

    db = str(tmp_path / "k.kb")
    args = ["--db", db, "ingest", str(images), "--engine", "ray", "--extractor", "caption-text"]
    args += ["--miner", "lexical", "--batch-size", "3", "--shard-size", "4", "--no-progress"]
    args += ["--workers", "2", "--cpus-per-worker", "0.5"]
    assert main(args) == 0
    with LadybugStore(Path(db), read_only=True) as kb:
        assert snapshot(kb) == expected
    capsys.readouterr()
    # again, into new shards: every image with current work is skipped, the graph stays
    assert main([*args, "--shards", str(tmp_path / "again")]) == 0
    out = capsys.readouterr().out
    assert "shards: 4 of 4 computed" in out
    with LadybugStore(Path(db), read_only=True) as kb:
        assert snapshot(kb) == expected
    shards = S.open_shards(tmp_path / "again")
    assert shards.table("evokes").num_rows == 0  # nothing recomputed
