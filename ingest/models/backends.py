"""The ``llm`` association miner and the ``vlm`` element extractor.

Both run on any :class:`~evokegraph.models.chat.ChatEngine` given by a spec
(``openai:gpt-4o-mini``, ``vllm:Qwen/Qwen2.5-VL-7B-Instruct``, ...), ask for
schema-constrained JSON, repair and validate every answer, and return a
:class:`~evokegraph.runs.Failed` with the raw text for answers that
cannot be used (policy ``skip``; ``raise`` stops at the first). Answers are
cached on disk by (model spec, prompt, image id), so a resumed or repeated
run does not pay twice. Importing this module imports no model library.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from evokegraph.errors import ModelOutputError
from evokegraph.ingest.models import parsing, prompts
from evokegraph.ingest.stages import EXTRACTORS, MINERS, Extraction, ImageItem, MiningInput
from evokegraph.models.chat import ChatEngine, ChatRequest, load_engine
from evokegraph.options import BackendOptions, keyless
from evokegraph.paths import cache_dir
from evokegraph.records import Element, Evocation, concept_key
from evokegraph.runs import Failed


class ResponseCache:
    """model spec + prompt + image id -> answer text, in one sqlite file."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            with sqlite3.connect(path) as db:
                db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, text TEXT)")

    @staticmethod
    def key(spec: str, req: ChatRequest, image_id: str) -> str:
        blob = json.dumps(
            [spec, req.messages, req.json_schema, req.temperature, req.seed, image_id],
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()

    def get(self, key: str) -> str | None:
        if self.path is None:
            return None
        with self._lock, sqlite3.connect(self.path) as db:
            row = db.execute("SELECT text FROM answers WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, key: str, text: str) -> None:
        if self.path is not None:
            with self._lock, sqlite3.connect(self.path) as db:
                db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?)", (key, text))


def _cache(cache: str | Path | None) -> ResponseCache:
    if cache == "off":
        return ResponseCache(None)
    return ResponseCache(Path(cache) if cache else cache_dir() / "responses.sqlite")


class _EngineBackend:
    def __init__(
        self,
        spec: str = "",
        engine: ChatEngine | None = None,
        cache: str | Path | None = None,
        policy: parsing.Policy = "skip",
        **engine_options: Any,
    ) -> None:
        if engine is None:
            from evokegraph.errors import UserInputError

            if not spec:
                raise UserInputError("this backend needs a model: pass --llm/--vlm ENGINE:MODEL")
            engine = load_engine(spec, **engine_options)
        self.engine = engine
        self.cache = _cache(cache)
        self.policy = policy
        self.usage: dict[str, float] = {"cached": 0.0}

    def _ask(self, reqs: list[ChatRequest], image_ids: list[str]) -> list[tuple[str, str]]:
        """(text, error) per request, through the cache."""
        keys = [
            ResponseCache.key(self.engine.spec, r, i) for r, i in zip(reqs, image_ids, strict=True)
        ]
        answers: dict[int, tuple[str, str]] = {}
        todo = []
        for n, k in enumerate(keys):
            hit = self.cache.get(k)
            if hit is not None:
                answers[n] = (hit, "")
                self.usage["cached"] += 1
            else:
                todo.append(n)
        for n, res in zip(todo, self.engine.generate([reqs[n] for n in todo]), strict=True):
            answers[n] = (res.text, res.error)
            if not res.error and res.text.strip():
                self.cache.put(keys[n], res.text)
        return [answers[n] for n in range(len(reqs))]

    def _fail(self, reason: str, raw: str) -> Failed:
        if self.policy == "raise":
            raise ModelOutputError(reason, raw=raw)
        return Failed(reason, raw=raw)


class LLMOptions(BackendOptions):
    """The ``llm`` miner's options (its model: ``--llm`` / ``IngestConfig.llm``)."""

    per_distance: int = Field(3, ge=1, description="associations per element and distance")
    prompt: Literal["project", "reference"] = keyless(
        "project", "project (per-distance prompt) or reference (the authors' prompt)"
    )
    temperature: float | None = keyless(None, "default: 0, or 1.0 (reference)")
    seed: int = keyless(0, "picks the reference prompt's caption per image")


class VLMOptions(BackendOptions):
    """The ``vlm`` extractor's options (its model: ``--vlm`` / ``IngestConfig.vlm``)."""

    top_k: int = Field(5, ge=1, description="salient elements per image")


class LLMMiner(_EngineBackend):
    """Associations at five distances from an LLM (the published method's step 2)."""

    name = "llm"

    def __init__(
        self,
        spec: str = "",
        per_distance: int = 3,
        prompt: str = "project",
        temperature: float | None = None,
        seed: int = 0,
        **kw: Any,
    ) -> None:
        if prompt not in ("project", "reference"):
            from evokegraph.errors import UserInputError

            raise UserInputError(f"unknown association prompt {prompt!r}; use project or reference")
        super().__init__(spec, **kw)
        self.per_distance = per_distance
        self.prompt = prompt
        # the reference sampled at the API's default temperature (1.0); the project at 0
        self.temperature = (
            temperature if temperature is not None else (1.0 if prompt == "reference" else 0.0)
        )
        self.seed = seed
        self.options = LLMOptions.model_validate(
            {
                "per_distance": per_distance,
                "prompt": prompt,
                "temperature": temperature,
                "seed": seed,
            }
        )

    def settings(self) -> dict[str, Any]:
        # the prompt's sampling enters the key only for the reference prompt
        if self.prompt == "reference":
            return self.options.settings(
                model=self.engine.spec,
                prompt="reference-1",
                temperature=self.temperature,
                seed=self.seed,
            )
        return self.options.settings(model=self.engine.spec, prompt=1)

    def short_caption(self, record: Any) -> str:
        """The caption the LLM sees: the first (project), or a seeded random one per
        image (the reference's ``random.choice`` of the image's COCO captions)."""
        caps = list(record.captions)
        if not caps:
            return ""
        if self.prompt != "reference":
            return caps[0]
        h = int(hashlib.sha256(f"{self.seed}|{record.id}".encode()).hexdigest(), 16)
        return caps[h % len(caps)]

    def _request(self, it: MiningInput) -> ChatRequest:
        words = [e.concept for e in it.elements]
        caption = self.short_caption(it.item.record)
        if self.prompt == "reference":
            messages = prompts.reference_association_messages(it.description, caption, words)
            max_tokens = 1000  # the reference's batch request
        else:
            messages = prompts.association_messages(
                it.description, caption, it.elements, self.per_distance
            )
            max_tokens = 120 * max(1, len(words))
        return ChatRequest(
            messages=messages,
            json_schema=prompts.association_schema(words, self.per_distance),
            max_tokens=max_tokens,
            temperature=self.temperature,
        )

    def mine(self, items: Sequence[MiningInput]) -> list[list[Evocation] | Failed]:
        reqs = [self._request(it) for it in items]
        out: list[list[Evocation] | Failed] = []
        for it, (text, error) in zip(
            items, self._ask(reqs, [i.item.record.id for i in items]), strict=True
        ):
            if error:
                out.append(self._fail(f"engine error: {error}", text))
                continue
            try:
                found = parsing.parse_associations(
                    text, [e.concept for e in it.elements], self.per_distance
                )
            except ModelOutputError as exc:
                out.append(self._fail(f"malformed answer: {exc}", text))
                continue
            pos = {e.concept: e.pos for e in it.elements}
            mentions = parsing.mention_counts(text, [e.concept for e in it.elements])
            out.append(
                [
                    Evocation(
                        element=w,
                        concept=concept_key(a),
                        surface=a,
                        pos=pos.get(w, "NOUN"),
                        distance=d,
                        rank=r,
                        mentions=mentions.get((w, concept_key(a)), 1),
                    )
                    for w, levels in found.items()
                    for d, assoc in levels.items()
                    for r, a in enumerate(assoc)
                ]
            )
        return out


class VLMExtractor(_EngineBackend):
    """Dense description + salient elements from a vision-language model."""

    name = "vlm"

    def __init__(self, spec: str = "", top_k: int = 5, **kw: Any) -> None:
        super().__init__(spec, **kw)
        self.top_k = top_k
        self.options = VLMOptions(top_k=top_k)

    def settings(self) -> dict[str, Any]:
        return self.options.settings(model=self.engine.spec, prompt=1)

    def extract(self, items: Sequence[ImageItem]) -> list[Extraction | Failed]:
        reqs = [
            ChatRequest(
                messages=prompts.extraction_messages(it.record.captions, self.top_k),
                images=[it.image] if it.image is not None else [],
                json_schema=prompts.EXTRACTION_SCHEMA,
                max_tokens=600,
            )
            for it in items
        ]
        out: list[Extraction | Failed] = []
        for text, error in self._ask(reqs, [i.record.id for i in items]):
            if error:
                out.append(self._fail(f"engine error: {error}", text))
                continue
            try:
                ans = parsing.parse_extraction(text, self.top_k)
            except ModelOutputError as exc:
                out.append(self._fail(f"malformed answer: {exc}", text))
                continue
            out.append(
                Extraction(
                    description=ans.description,
                    elements=[
                        Element(
                            name=e.name,
                            concept=e.name,
                            pos=e.pos,
                            saliency=e.salience,
                            rank=r,
                            box=e.box,
                        )
                        for r, e in enumerate(ans.elements)
                    ],
                )
            )
        return out


MINERS.add("llm", LLMMiner, "associations from an LLM (--llm ENGINE:MODEL)", LLMOptions)
EXTRACTORS.add(
    "vlm", VLMExtractor, "elements from a vision-language model (--vlm ENGINE:MODEL)", VLMOptions
)
