"""``--preset reference``: the settings of the authors' reference code.

``project`` (the default) keeps this project's choices. ``reference`` for
ingest mines with an LLM on the reference's association prompt (dense context
caption + one short caption picked at random per image + the word list),
sampling at the API default temperature 1.0, up to 1000 tokens; for caption
it is the VLM realizer on the reference's caption prompt (the association and
the image's other salient words), temperature 0.7, top-p 0.9, 150 tokens,
one association drawn uniformly at random (seeded) per element and distance.
Molmo-7B-D (the reference VLM) needs ``--trust-remote-code`` and, on vLLM,
its plain ``USER: <image> ... ASSISTANT:`` prompt (used with a vllm: spec).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evokegraph.errors import UserInputError

PRESETS = ("project", "reference")
LOCAL_ENGINES = ("vllm", "transformers")


HTTP_ENGINES = ("openai",)


@dataclass(frozen=True)
class ModelSpec:
    """One model a backend runs, the same for the extractor (``--vlm``), the miner
    (``--llm``), the caption realizer (``--vlm``) and the presets: ``ENGINE:MODEL``,
    how to reach it (an OpenAI-compatible server) or how to load it (a local engine)."""

    spec: str = ""
    base_url: str | None = None
    api_key: str | None = None
    dtype: str | None = None
    max_model_len: int | None = None
    trust_remote_code: bool = False

    @property
    def engine(self) -> str:
        return self.spec.partition(":")[0]

    def loader_options(self) -> dict[str, Any]:
        """What loads a local model (vllm:, transformers:), as given."""
        opts: dict[str, Any] = {}
        if self.trust_remote_code:
            opts["trust_remote_code"] = True
        if self.dtype:
            opts["dtype"] = self.dtype
        if self.max_model_len:
            opts["max_model_len"] = self.max_model_len
        return opts

    def engine_options(self) -> dict[str, Any]:
        """The keywords ``load_engine`` takes for this spec: the endpoint of an HTTP
        engine, the loader options of a local one (each kind only where it applies)."""
        if self.engine in HTTP_ENGINES:
            pairs = (("base_url", self.base_url), ("api_key", self.api_key))
            return {k: v for k, v in pairs if v is not None}
        return self.loader_options() if self.engine in LOCAL_ENGINES else {}


def check_loader_options(*specs: ModelSpec) -> None:
    """Loader options (``--trust-remote-code/--dtype/--max-model-len``) given where no
    spec runs a local engine: refused, naming the specs."""
    given = [s for s in specs if s.loader_options()]
    if given and not any(s.engine in LOCAL_ENGINES for s in specs if s.spec):
        names = ", ".join(s.spec for s in specs if s.spec) or "no model"
        raise UserInputError(
            f"--trust-remote-code/--dtype/--max-model-len load a local model; {names} "
            f"is not a {' or '.join(f'{e}:' for e in LOCAL_ENGINES)} spec"
        )


def check_preset(preset: str) -> str:
    if preset not in PRESETS:
        raise UserInputError(f"unknown --preset {preset!r}; use {' or '.join(PRESETS)}")
    return preset


def engine_options(
    spec: str,
    trust_remote_code: bool = False,
    dtype: str | None = None,
    max_model_len: int | None = None,
) -> dict[str, Any]:
    """Loader options for a local engine (vllm:, transformers:), refused for HTTP ones."""
    opts: dict[str, Any] = {}
    if trust_remote_code:
        opts["trust_remote_code"] = True
    if dtype:
        opts["dtype"] = dtype
    if max_model_len:
        opts["max_model_len"] = max_model_len
    engine = spec.partition(":")[0]
    if opts and engine not in LOCAL_ENGINES:
        raise UserInputError(
            f"--trust-remote-code/--dtype/--max-model-len load a local model; {spec or 'no model'} "
            f"is not a {' or '.join(f'{e}:' for e in LOCAL_ENGINES)} spec"
        )
    return opts


def reference_miner_options(llm: str, seed: int = 0, **engine: Any) -> dict[str, Any]:
    if not llm:
        raise UserInputError(
            "--preset reference mines with an LLM: pass --llm openai:gpt-4o-mini (the "
            "reference's) or a local vllm:/transformers: model"
        )
    return {"spec": llm, "prompt": "reference", "seed": seed, **engine}


def reference_realizer_options(vlm: str, **engine: Any) -> dict[str, Any]:
    if not vlm:
        raise UserInputError(
            "--preset reference captions with a VLM: pass --vlm vllm:allenai/Molmo-7B-D-0924 "
            "--trust-remote-code (the reference's) or another ENGINE:MODEL"
        )
    return {
        "spec": vlm,
        "prompt": "reference",
        "temperature": 0.7,
        "top_p": 0.9,
        "raw_prompt": vlm.startswith("vllm:") and "molmo" in vlm.casefold(),
        "engine_options": engine,
    }
