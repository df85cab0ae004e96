"""The ``ray.data.llm`` adapter: processor config, request rows, prompt -> answer mapping.

vLLM is not installed here: nothing in this file runs a model (see also the
stand-in processor test in tests/test_ingest_ray.py)."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from evokegraph.errors import UserInputError
from evokegraph.ingest.runner import IngestConfig
from evokegraph.models.chat import ChatRequest

pytest.importorskip("ray.data.llm", reason="ray[data] with aiohttp (the ray extra)")

from evokegraph.ingest import ray_llm  # noqa: E402

CONFIG = IngestConfig(
    extractor="vlm",
    miner="llm",
    extractor_options={"spec": "vllm:org/vlm-7b", "top_k": 4, "dtype": "bfloat16"},
    miner_options={"spec": "vllm:org/llm-8b", "max_model_len": 4096, "per_distance": 2},
)


def test_only_vllm_specs_of_model_backends_use_the_processor() -> None:
    assert ray_llm.vllm_spec(CONFIG, "elements") == "vllm:org/vlm-7b"
    assert ray_llm.vllm_spec(CONFIG, "associations") == "vllm:org/llm-8b"
    other = IngestConfig(
        extractor="caption-text", miner="llm", miner_options={"spec": "openai:gpt-4o-mini"}
    )
    assert ray_llm.vllm_spec(other, "elements") is None
    assert ray_llm.vllm_spec(other, "associations") is None


def test_processor_config_from_the_ingest_settings() -> None:
    from ray.data.llm import vLLMEngineProcessorConfig

    conf = ray_llm.processor_config(CONFIG, "elements", "vllm:org/vlm-7b", 3, 2)
    assert isinstance(conf, vLLMEngineProcessorConfig)
    assert conf.model_source == "org/vlm-7b"
    assert conf.engine_kwargs["dtype"] == "bfloat16"
    assert conf.engine_kwargs["tensor_parallel_size"] == 2
    assert (conf.concurrency, conf.batch_size) == (3, CONFIG.batch_size)
    assert conf.should_continue_on_error
    assert conf.prepare_multimodal_stage["enabled"]  # the VLM gets images
    conf = ray_llm.processor_config(CONFIG, "associations", "vllm:org/llm-8b")
    assert conf.engine_kwargs["max_model_len"] == 4096
    assert "tensor_parallel_size" not in conf.engine_kwargs
    assert not conf.prepare_multimodal_stage["enabled"]


def test_request_rows_carry_messages_images_and_the_schema() -> None:
    req = ChatRequest(
        messages=[{"role": "user", "content": "describe"}],
        images=[Image.new("RGB", (1200, 600), "red")],
        json_schema={"type": "object"},
        max_tokens=600,
        seed=3,
    )
    row = json.loads(ray_llm.request_row(req))
    assert row["key"] == ray_llm.request_key(req)
    parts = row["messages"][-1]["content"]
    assert parts[0] == {"type": "text", "text": "describe"}
    assert parts[1]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert row["sampling_params"] == {
        "max_tokens": 600,
        "temperature": 0.0,
        "top_p": 1.0,
        "seed": 3,
        "structured_outputs": {"json": {"type": "object"}},
    }
    with pytest.raises(UserInputError, match="chat template"):
        ray_llm.request_row(ChatRequest(messages=[], raw_prompt="USER: <image>"))


def test_backends_never_load_a_model_and_answers_map_back_by_key() -> None:
    from evokegraph.ingest.stages import BY_NAME, ImageItem
    from evokegraph.records import ImageRecord

    # prompt phase: the recorder; its requests become rows, one per image
    built = ray_llm.backends(CONFIG, "elements", "prompt", BY_NAME)
    ex, miner = built.extractor, built.miner
    assert isinstance(ex.engine, ray_llm.PromptRecorder)
    assert isinstance(miner.engine, ray_llm.PromptRecorder)  # the other stage's: settings only
    assert ex.settings()["model"] == "vllm:org/vlm-7b"  # the stage keys of the in-process engine
    items = [
        ImageItem(record=ImageRecord(id=f"{i:064x}", uris=[f"{i}.png"], captions=[c]))
        for i, c in enumerate(["a red kite", "a blue boat"])
    ]
    rows = ray_llm.record_requests(ex.engine, lambda: ex.extract(items), 2)
    assert len({json.loads(r)["key"] for r in rows}) == 2
    with pytest.raises(RuntimeError, match="3 images"):
        ray_llm.record_requests(ex.engine, lambda: ex.extract(items), 3)

    # parse phase: the processor's answers, matched to the backend's requests by key
    ex = ray_llm.backends(CONFIG, "elements", "parse", BY_NAME).extractor
    assert isinstance(ex.engine, ray_llm.AnswerReplay)

    def answer(word: str) -> str:
        text = json.dumps(
            {"description": f"a {word}", "elements": [{"name": word, "pos": "NOUN", "salience": 1}]}
        )
        out = {"generated_text": text, "num_input_tokens": 5, "num_generated_tokens": 9}
        return ray_llm.result_json(out)

    ray_llm.replay(ex.engine, list(zip(rows, [answer("kite"), answer("boat")], strict=True)))
    got = ex.extract(items)
    assert [g.elements[0].concept for g in got] == ["kite", "boat"]
    assert ex.engine.usage["completion_tokens"] == 18
    # rows out of step with the requests: every answer refused, none misattributed
    ray_llm.replay(ex.engine, list(zip(rows[::-1], [answer("boat"), answer("kite")], strict=True)))
    got = ex.extract(items)
    assert all("another request" in g.reason for g in got)
    # an engine error in a processor row is that image's failure
    err = ray_llm.result_json({"generated_text": "", "__inference_error__": "CUDA OOM"})
    ray_llm.replay(ex.engine, list(zip(rows, [err, answer("boat")], strict=True)))
    got = ex.extract(items)
    assert "CUDA OOM" in got[0].reason and got[1].elements[0].concept == "boat"
