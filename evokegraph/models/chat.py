"""The one protocol for text-generating model engines (LLM and VLM).

Engines (``transformers``, ``vllm``, ``openai``) live in
:mod:`evokegraph.models.engines`; everything that needs a model (the VLM
extractor and the LLM miner of ingest, the VLM caption realizer of
captioning) talks to this protocol only, so a test can hand in a fake engine. ``load_engine("vllm:Qwen/...")``
resolves a spec ``ENGINE:MODEL`` through :data:`ENGINES`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from evokegraph.errors import UserInputError
from evokegraph.registry import Registry

if TYPE_CHECKING:
    from PIL import Image as PILImage


@dataclass
class ChatRequest:
    """One chat-style request: OpenAI-style messages (text only) plus images.

    ``images`` are attached to the last user message by the engine, in the
    way its model expects. ``json_schema`` asks for schema-constrained output
    where the engine supports it (vLLM structured outputs, OpenAI
    ``response_format``); engines that cannot constrain still get the schema
    in the prompt, and callers always validate.
    """

    messages: list[dict[str, str]]
    images: list[PILImage.Image] = field(default_factory=list)
    json_schema: dict[str, Any] | None = None
    max_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    # a plain prompt for models without a chat template (Molmo as the reference
    # prompts it: "USER: <image> ... ASSISTANT:"); vllm and transformers use it
    # instead of ``messages``, the HTTP engine keeps to ``messages``
    raw_prompt: str | None = None

    def sampling(self) -> dict[str, Any]:
        """The sampling settings every engine passes on (``seed`` only when set)."""
        out: dict[str, Any] = {
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
        }
        if self.seed is not None:
            out["seed"] = self.seed
        return out


@dataclass
class ChatResult:
    text: str
    error: str = ""  # transport/engine error for this request; text is then ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


@runtime_checkable
class ChatEngine(Protocol):
    spec: str  # "engine:model", as the user named it

    def generate(self, requests: Sequence[ChatRequest]) -> list[ChatResult]:
        """One result per request, in order; never raises for one bad request."""


ENGINES: Registry[ChatEngine] = Registry("engine")


def parse_spec(spec: str) -> tuple[str, str]:
    """``"vllm:Qwen/Qwen2.5-VL-7B-Instruct"`` -> ``("vllm", "Qwen/...")``."""
    engine, sep, model = spec.partition(":")
    if not sep or not engine or not model:
        raise UserInputError(
            f"bad model spec {spec!r}; write ENGINE:MODEL, e.g. vllm:Qwen/Qwen2.5-VL-7B-Instruct, "
            "openai:gpt-4o-mini or transformers:/path/to/model"
        )
    return engine, model


def load_engine(spec: str, **options: Any) -> ChatEngine:
    """Resolve ``ENGINE:MODEL`` to an engine instance (heavy imports happen here)."""
    import importlib

    engine, model = parse_spec(spec)
    try:
        importlib.import_module("evokegraph.models.engines")
    except ModuleNotFoundError as exc:
        mod = "evokegraph.models.engines"
        if not exc.name or not (mod == exc.name or mod.startswith(exc.name + ".")):
            raise
    return ENGINES.create(engine, model=model, **options)


def reference_raw_prompt(text: str) -> str:
    """Molmo's plain prompt as the reference sent it to vLLM's generate (no chat template)."""
    return f"USER: <image> \n {text} \n ASSISTANT:"
