"""vLLM through Ray Data's LLM processors (``ray.data.llm``), for ``--engine ray``.

Where the ``vlm`` extractor or the ``llm`` miner runs on ``vllm:MODEL``, the
Ray engine does not start a vLLM engine inside its own actors: the stage runs
in two steps around Ray Data's vLLM processor (``vLLMEngineProcessorConfig`` +
``build_processor``, which batches requests over its own GPU actor pool):

1. ``prompt``: the backend, the same object as everywhere, builds its requests
   on a :class:`PromptRecorder` engine; each image row gets its request
   (OpenAI-style messages, images as data URLs, sampling parameters with the
   JSON schema as structured output) in ``llm_request``;
2. the processor answers every row (``generated_text``);
3. ``parse``: the backend runs again on an :class:`AnswerReplay` engine that
   hands it the processor's answers, matched to its requests by key, and
   validates them as always.

Rows without a request (images not to compute, per-shard count rows) go
through the processor as a one-token pass-through request, since a processor
answers every row. The disk answer cache is off on this path (shards are what
resume a job). The reference prompt without chat template (``raw_prompt``,
Molmo) is not supported here.

**Not run here**: vLLM cannot be installed on this machine; the tests check
the processor config, the request rows and the prompt -> answer mapping with a
stand-in processor of the same interface.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from evokegraph.errors import UserInputError
from evokegraph.models.chat import ChatRequest, ChatResult, parse_spec
from evokegraph.models.engines import openai_messages

if TYPE_CHECKING:
    from evokegraph.ingest.config import IngestConfig
    from evokegraph.ingest.stages import Backends

# stage -> (config field of the backend name, the model backend, its options field)
STAGES = {
    "elements": ("extractor", "vlm", "extractor_options"),
    "associations": ("miner", "llm", "miner_options"),
}
# options that load the model: they go to the processor's vLLM engine instead
ENGINE_OPTIONS = ("trust_remote_code", "dtype", "max_model_len")
MAX_IMAGE_SIDE = 768
PASS_THROUGH = json.dumps(
    {
        "key": "",
        "messages": [{"role": "user", "content": "."}],
        "sampling_params": {"max_tokens": 1, "temperature": 0.0},
    }
)
# the columns of a row between the Ray engine's stages (ray_stages.COLUMNS is
# these plus llm_request): what the processor's postprocess keeps besides its answer
CARRY = ("shard", "seq", "n", "items", "work", "failures", "summary")


def vllm_spec(config: IngestConfig, stage: str) -> str | None:
    """The ``vllm:MODEL`` spec of the stage's model backend, or None."""
    if stage not in STAGES:
        return None
    name, model_backend, options = STAGES[stage]
    spec = str(getattr(config, options).get("spec", ""))
    if getattr(config, name) == model_backend and spec.startswith("vllm:"):
        return spec
    return None


def request_key(req: ChatRequest) -> str:
    """What identifies a request's answer (images aside: one request per image row)."""
    blob = json.dumps(
        [req.messages, req.json_schema, req.max_tokens, req.temperature, req.top_p, req.seed],
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def request_row(req: ChatRequest, max_image_side: int = MAX_IMAGE_SIDE) -> str:
    """One request as the processor's input columns (JSON: messages, sampling_params)."""
    if req.raw_prompt is not None:
        raise UserInputError(
            "the reference prompt without chat template does not run on Ray's vLLM "
            "processor; use --engine local, or a model with a chat template"
        )
    params: dict[str, Any] = req.sampling()
    if req.json_schema is not None:
        params["structured_outputs"] = {"json": req.json_schema}
    return json.dumps(
        {
            "key": request_key(req),
            "messages": openai_messages(req, max_image_side),
            "sampling_params": params,
        }
    )


def result_json(row: dict[str, Any]) -> str:
    """A processor output row -> the answer, as :class:`ChatResult` fields (JSON)."""
    return json.dumps(
        {
            "text": row.get("generated_text") or "",
            "error": str(row.get("__inference_error__") or ""),
            "prompt_tokens": int(row.get("num_input_tokens") or 0),
            "completion_tokens": int(row.get("num_generated_tokens") or 0),
        }
    )


@dataclass
class PromptRecorder:
    """A chat engine that records the requests it gets and answers none."""

    spec: str
    requests: list[ChatRequest] = field(default_factory=list)

    def generate(self, requests: Sequence[ChatRequest]) -> list[ChatResult]:
        self.requests += requests
        return [ChatResult(text="", error="recorded for Ray's LLM processor") for _ in requests]


@dataclass
class AnswerReplay:
    """A chat engine answering from the processor's rows, in order, checked by key."""

    spec: str
    answers: list[tuple[str, ChatResult]] = field(default_factory=list)
    usage: dict[str, float] = field(
        default_factory=lambda: {"requests": 0.0, "prompt_tokens": 0.0, "completion_tokens": 0.0}
    )

    def generate(self, requests: Sequence[ChatRequest]) -> list[ChatResult]:
        if len(requests) != len(self.answers):
            raise RuntimeError(
                f"{len(requests)} requests for {len(self.answers)} answers from the processor"
            )
        out = []
        for req, (key, res) in zip(requests, self.answers, strict=True):
            if key != request_key(req):  # rows and requests out of step: never guess
                res = ChatResult(text="", error="the processor's answer is for another request")
            out.append(res)
            self.usage["requests"] += 1
            self.usage["prompt_tokens"] += res.prompt_tokens
            self.usage["completion_tokens"] += res.completion_tokens
        self.answers = []
        return out


def record_requests(engine: PromptRecorder, run: Callable[[], Any], expected: int) -> list[str]:
    """Run a backend on the recorder; its requests as processor rows, one per item."""
    engine.requests.clear()
    run()
    if len(engine.requests) != expected:
        raise RuntimeError(f"{len(engine.requests)} model requests for {expected} images")
    return [request_row(r) for r in engine.requests]


def replay(engine: AnswerReplay, rows: Sequence[tuple[str, str]]) -> None:
    """Hand the processor's answers (``(llm_request, llm_answer)`` per image row, in the
    order the backend will ask) to the replay engine."""
    engine.answers = [(json.loads(req)["key"], ChatResult(**json.loads(ans))) for req, ans in rows]


def backends(config: IngestConfig, stage: str, phase: str, given: Backends) -> Backends:
    """The backends with every vLLM model backend on a stand-in engine, never a model:
    the replay for ``stage``'s own backend in the ``parse`` phase, else the recorder
    (the other stage's backend serves only for its settings and keys)."""
    from evokegraph.ingest.stages import Backends, make_extractor, make_miner

    built: dict[str, Any] = {"elements": given.extractor, "associations": given.miner}
    for name, (field_name, _, options) in STAGES.items():
        spec = vllm_spec(config, name)
        if spec is None or built[name] is not None:
            continue
        parse = name == stage and phase == "parse"
        engine = AnswerReplay(spec) if parse else PromptRecorder(spec)
        opts = {k: v for k, v in getattr(config, options).items() if k not in ENGINE_OPTIONS}
        opts |= {"engine": engine, "cache": "off"}
        make = make_extractor if name == "elements" else make_miner
        built[name] = make(getattr(config, field_name), **opts)
    return Backends(built["elements"], built["associations"])


def processor_config(
    config: IngestConfig, stage: str, spec: str, workers: int = 1, gpus_per_worker: float = 0.0
) -> Any:
    """The ``vLLMEngineProcessorConfig`` for one stage's model (``ray.data.llm``):
    ``workers`` engine actors (``--workers``), ``gpus_per_worker`` GPUs each."""
    from ray.data.llm import vLLMEngineProcessorConfig

    _, model = parse_spec(spec)
    opts = getattr(config, STAGES[stage][2])
    engine_kwargs: dict[str, Any] = {k: opts[k] for k in ENGINE_OPTIONS if k in opts}
    if gpus_per_worker >= 2:  # one model over several GPUs
        engine_kwargs["tensor_parallel_size"] = int(gpus_per_worker)
    return vLLMEngineProcessorConfig(
        model_source=model,
        engine_kwargs=engine_kwargs,
        batch_size=config.batch_size,
        concurrency=workers,
        should_continue_on_error=True,  # a bad row is that image's failure, not the job's
        prepare_multimodal_stage={"enabled": stage == "elements"},  # images as data URLs
    )


def preprocess(row: dict[str, Any]) -> dict[str, Any]:
    req = json.loads(row["llm_request"] or PASS_THROUGH)
    return {**row, "messages": req["messages"], "sampling_params": req["sampling_params"]}


def postprocess(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: row[k] for k in CARRY}
    out["llm_request"] = row["llm_request"]
    out["llm_answer"] = result_json(row)
    return out


def processor(
    config: IngestConfig, stage: str, spec: str, workers: int = 1, gpus_per_worker: float = 0.0
) -> Any:
    """Ray Data's vLLM processor for one stage: ``Dataset -> Dataset`` (rows keep their
    columns and get ``llm_answer``)."""
    from ray.data.llm import build_processor

    return build_processor(
        processor_config(config, stage, spec, workers, gpus_per_worker),
        preprocess=preprocess,
        postprocess=postprocess,
    )
