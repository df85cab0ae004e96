"""The shared batch work: a source's own description reaches the miner and the store."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from PIL import Image

from evokegraph.graph.ladybug_store import LadybugStore
from evokegraph.ingest.runner import IngestConfig, ingest
from evokegraph.ingest.stages import Backends, MiningInput
from evokegraph.records import Evocation


class ContextMiner:
    """Records the description each image is mined with; one association per element."""

    name = "test-context"

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def settings(self) -> dict[str, object]:
        return {"v": 1}

    def mine(self, items: Sequence[MiningInput]) -> list[list[Evocation]]:
        for it in items:
            self.seen[it.item.record.uris[0]] = it.description
        return [
            [
                Evocation(element=e.concept, concept=f"{e.concept}-x", distance=1)
                for e in it.elements
            ]
            for it in items
        ]


def _list(tmp_path: Path, description: str) -> Path:
    img = tmp_path / "a.png"
    if not img.exists():
        Image.new("RGB", (8, 8), "red").save(img)
    rows = [
        {"file": str(img), "captions": ["a red kite"], "description": description},
        {"file": str(tmp_path / "b.png"), "captions": ["a blue boat"]},
    ]
    Image.new("RGB", (8, 8), "blue").save(tmp_path / "b.png")
    path = tmp_path / "list.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    return path


def test_a_source_description_wins_over_the_extractor_and_reaches_the_miner(
    tmp_path: Path, fake_stages: dict[str, str]
) -> None:
    miner = ContextMiner()
    config = IngestConfig(extractor=fake_stages["extractor"], miner="test-context")
    with LadybugStore(tmp_path / "k.kb", create=True) as kb:
        s = ingest(kb, [_list(tmp_path, "a kite over a windy beach")], config, miner=miner)
        assert (s.new, s.failed) == (2, 0)
        seen = {Path(k).name: v for k, v in miner.seen.items()}
        # the source's description is the miner's context; without one, the extractor's
        assert seen == {"a.png": "a kite over a windy beach", "b.png": "a blue boat"}
        stored = {
            Path(v.image.uris[0]).name: v.image.description
            for v in map(kb.get_image, kb.image_ids())
        }
        assert stored == seen

        # the same again is skipped; a new description redoes that image's associations
        s = ingest(kb, [_list(tmp_path, "a kite over a windy beach")], config, miner=miner)
        assert (s.skipped, s.new) == (2, 0)
        miner.seen.clear()
        s = ingest(kb, [_list(tmp_path, "a kite in a storm")], config, miner=miner)
        assert s.skipped == 1
        assert [Path(k).name for k in miner.seen] == ["a.png"]
        assert kb.get_image(_id(kb, "a.png")).image.description == "a kite in a storm"


def _id(kb: LadybugStore, name: str) -> str:
    for i in kb.image_ids():
        view = kb.get_image(i)
        if view is not None and Path(view.image.uris[0]).name == name:
            return i
    raise pytest.fail(f"{name} not stored")


class LoadingMiner(ContextMiner):
    """A miner that counts its model loads (the Loads protocol)."""

    def __init__(self) -> None:
        super().__init__()
        self.loads = 0

    def load(self, progress: object = None) -> None:
        self.loads += 1


def test_ray_actors_load_their_own_models_once_as_they_start(fake_stages: dict[str, str]) -> None:
    from evokegraph.ingest.ray_stages import ExtractStage, MineStage

    config = IngestConfig(extractor=fake_stages["extractor"], miner="test-context")
    miner = LoadingMiner()
    ExtractStage(config, "run", Backends(miner=miner))
    assert miner.loads == 0  # the extract stage's actor has no use for the miner's models
    MineStage(config, "run", Backends(miner=miner))
    assert miner.loads == 1  # in __init__, before any batch
    MineStage(config, "run", Backends(miner=miner), phase="prompt")
    assert miner.loads == 1  # a vLLM pass loads no model
