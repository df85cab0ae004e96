"""``--preset reference``: the reference's prompts, sampling, uniform association
choice, engine options reaching the loaders, dense descriptions from sources."""

from __future__ import annotations

import json
import random
import sys
import types
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from stand_ins import FakeEngine

from evokegraph.captioning.realizers import CaptionRequest, VLMRealizer
from evokegraph.captioning.runner import choose
from evokegraph.errors import ModelError, UserInputError
from evokegraph.ingest.models.backends import LLMMiner
from evokegraph.ingest.stages import ImageItem, MiningInput
from evokegraph.models.chat import ChatRequest
from evokegraph.models.presets import engine_options, reference_realizer_options
from evokegraph.records import ContextPath, Element, ImageRecord, PathStep


def mining_input(image_id: str, captions: list[str]) -> MiningInput:
    return MiningInput(
        item=ImageItem(record=ImageRecord(id=image_id, captions=captions)),
        description="A brown dog chases a red ball on a sunny beach at dusk.",
        elements=[Element(name="dog", concept="dog"), Element(name="ball", concept="ball")],
    )


ANSWER = json.dumps(
    {
        w: {str(d): [f"{w}{d}a", f"{w}{d}b", f"{w}{d}c"] for d in range(1, 6)}
        for w in ("dog", "ball")
    }
)


def test_reference_association_prompt_and_sampling() -> None:
    eng = FakeEngine(ANSWER)
    miner = LLMMiner(engine=eng, prompt="reference", cache="off")
    caps = ["a dog and a ball", "a puppy plays", "beach fun", "dog at dusk"]
    inputs = [mining_input(f"{i:064x}", caps) for i in range(12)]
    out = miner.mine(inputs)
    assert all(isinstance(o, list) and len(o) == 30 for o in out)  # "1".."5" keys parse
    req = eng.requests[0]
    system, user = req.messages[0]["content"], req.messages[1]["content"]
    assert "`A brown dog chases a red ball on a sunny beach at dusk.`" in system
    assert "Ball -> Journey" in system and "Do not generate the original word" in system
    assert user == "['dog', 'ball']"
    assert req.temperature == 1.0 and req.max_tokens == 1000
    shown = Counter(next(c for c in caps if c in r.messages[0]["content"]) for r in eng.requests)
    assert len(shown) > 1  # a random caption per image, not always the first
    again = FakeEngine(ANSWER)
    LLMMiner(engine=again, prompt="reference", cache="off").mine(inputs)
    assert [r.messages for r in again.requests] == [r.messages for r in eng.requests]  # seeded
    project = FakeEngine(ANSWER)
    LLMMiner(engine=project, cache="off").mine(inputs[:1])
    assert project.requests[0].temperature == 0.0
    with pytest.raises(UserInputError, match="unknown association prompt"):
        LLMMiner(engine=eng, prompt="other")


def path(element: str, concept: str, weight: float, depth: int = 3) -> ContextPath:
    step = PathStep(kind="EVOKES", source=element, target=concept, distance=depth, weight=weight)
    return ContextPath(
        image_id="a" * 64,
        element=element,
        concept=concept,
        depth=depth,
        weight=weight,
        steps=[step],
    )


def test_uniform_choice_ignores_weights_and_is_seeded() -> None:
    paths = [path("dog", "loyalty", 0.97), *(path("dog", f"c{i}", 0.01) for i in range(3))]
    assert choose(paths, 1, None)[0].concept == "loyalty"  # the project: the heaviest
    picks = Counter(choose(paths, 1, random.Random(s), uniform=True)[0].concept for s in range(400))
    assert len(picks) == 4 and max(picks.values()) < 160  # about 100 each, not ~390 loyalty
    weighted = Counter(choose(paths, 1, random.Random(s))[0].concept for s in range(400))
    assert weighted["loyalty"] > 350
    assert choose(paths, 1, random.Random(7), True) == choose(paths, 1, random.Random(7), True)


def test_reference_caption_prompt_uses_the_other_salient_words() -> None:
    eng = FakeEngine("A loyal friend on the sand")
    real = VLMRealizer(
        eng,
        **{
            k: v
            for k, v in reference_realizer_options("vllm:x").items()
            if k in ("prompt", "temperature", "top_p")
        },
    )
    req = CaptionRequest(
        path=path("dog", "loyal", 0.5, depth=4),
        image=Image.new("RGB", (8, 8)),
        salient=["beach", "dog", "frisbee"],
    )
    assert real.realize([req]) == ["A loyal friend on the sand"]
    chat = eng.requests[0]
    text = chat.messages[0]["content"]
    assert "these words: loyal, beach, frisbee to make" in text  # the element itself left out
    assert "abstraction 4" in text and "The caption MUST contain loyal." in text
    assert chat.max_tokens == 150 and chat.temperature == 0.7 and chat.top_p == 0.9
    assert chat.raw_prompt is None
    raw = VLMRealizer(FakeEngine("A loyal friend"), prompt="reference", raw_prompt=True)
    raw.realize([req])
    assert raw.engine.requests[0].raw_prompt.startswith("USER: <image> \n Write a short caption")
    assert reference_realizer_options("vllm:allenai/Molmo-7B-D-0924")["raw_prompt"] is True


def test_engine_options_reach_vllm_and_transformers(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    class FakeLLM:
        def __init__(self, model: str, **kw: Any) -> None:
            seen.update(model=model, **kw)

        def generate(self, prompts: list[dict], sampling_params: Any, use_tqdm: bool) -> list:
            seen["generate"] = prompts
            out = types.SimpleNamespace(text="ok", token_ids=[1])
            return [types.SimpleNamespace(outputs=[out], prompt_token_ids=[1, 2]) for _ in prompts]

    fake = types.ModuleType("vllm")
    fake.LLM = FakeLLM
    fake.SamplingParams = lambda **kw: kw
    fake.sampling_params = types.SimpleNamespace()
    monkeypatch.setitem(sys.modules, "vllm", fake)
    from evokegraph.models.chat import load_engine

    opts = engine_options("vllm:allenai/Molmo-7B-D-0924", True, "bfloat16", 4096)
    eng = load_engine("vllm:allenai/Molmo-7B-D-0924", **opts)
    assert seen == {
        "model": "allenai/Molmo-7B-D-0924",
        "trust_remote_code": True,
        "dtype": "bfloat16",
        "max_model_len": 4096,
    }
    img = Image.new("RGB", (8, 8))
    (res,) = eng.generate([ChatRequest(messages=[], images=[img], raw_prompt="USER: <image> hi")])
    assert res.text == "ok" and seen["generate"][0]["prompt"] == "USER: <image> hi"
    assert seen["generate"][0]["multi_modal_data"]["image"].size == (8, 8)

    import transformers

    def refuse(model: str, **kw: Any) -> None:
        seen["transformers"] = kw
        raise OSError("not here")

    monkeypatch.setattr(transformers.AutoConfig, "from_pretrained", refuse)
    with pytest.raises(ModelError):
        load_engine("transformers:/nowhere", trust_remote_code=True, max_model_len=64)
    assert seen["transformers"]["trust_remote_code"] is True
    with pytest.raises(UserInputError, match="load a local model"):
        engine_options("openai:gpt-4o-mini", trust_remote_code=True)


def test_sources_carry_a_dense_description(tmp_path: Path) -> None:
    from evokegraph.ingest.images import load_image
    from evokegraph.ingest.sources import iter_source

    Image.new("RGB", (8, 8), "red").save(tmp_path / "a.png")
    (tmp_path / "list.csv").write_text(
        'path,caption,description\na.png,a red square,"A   flat red square, nothing else."\n'
    )
    (tmp_path / "list.jsonl").write_text(
        json.dumps({"path": "a.png", "caption": "red", "dense_caption": "Red all over."}) + "\n"
    )
    (csv_item,) = iter_source(tmp_path / "list.csv")
    (jsonl_item,) = iter_source(tmp_path / "list.jsonl")
    assert csv_item.description == "A flat red square, nothing else."
    assert jsonl_item.description == "Red all over."
    item = load_image(csv_item.path, description=csv_item.description)
    assert item.record.description == "A flat red square, nothing else."


def test_preset_cli_needs_its_models(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from evokegraph.cli import main

    db = str(tmp_path / "kb.kb")
    assert main(["--db", db, "init"]) == 0
    code = main(["--db", db, "caption", "--preset", "reference", "--no-progress"])
    assert code == 2 and "--vlm vllm:allenai/Molmo-7B-D-0924" in capsys.readouterr().err
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    code = main(["--db", db, "ingest", str(tmp_path / "a.png"), "--preset", "reference"])
    assert code == 2 and "pass --llm openai:gpt-4o-mini" in capsys.readouterr().err
