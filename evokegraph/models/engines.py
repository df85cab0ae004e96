"""Chat engines behind :class:`~evokegraph.models.chat.ChatEngine`.

* ``openai``: any OpenAI-compatible HTTP server (a vLLM server, hosted APIs
  such as the method's gpt-4o-mini): JSON-schema ``response_format``, a
  concurrency limit, retries with exponential backoff on 429/5xx/timeouts,
  token and cost accounting.
* ``vllm``: a thin adapter over ``vllm.LLM.chat`` (GPU only; cannot be
  installed in this workplace): images passed as PIL parts after resizing,
  structured outputs from the JSON schema, one large batch per call.

Each engine answers every request (``ChatResult.error`` on failure) and never
raises for one bad request.
"""

from __future__ import annotations

import base64
import io
import json
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from evokegraph.errors import ModelError
from evokegraph.models.chat import ENGINES, ChatRequest, ChatResult

RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


def image_data_url(image: Any, max_side: int = 768) -> str:
    im = image.convert("RGB")
    im.thumbnail((max_side, max_side))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def openai_messages(req: ChatRequest, max_side: int = 768) -> list[dict[str, Any]]:
    """Messages with the request's images attached to the last user turn."""
    msgs: list[dict[str, Any]] = [dict(m) for m in req.messages]
    if req.images:
        last = max(i for i, m in enumerate(msgs) if m["role"] == "user")
        parts: list[dict[str, Any]] = [{"type": "text", "text": msgs[last]["content"]}]
        parts += [
            {"type": "image_url", "image_url": {"url": image_data_url(im, max_side)}}
            for im in req.images
        ]
        msgs[last] = {"role": "user", "content": parts}
    return msgs


class OpenAIEngine:
    """OpenAI-compatible chat completions over HTTP (httpx)."""

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        concurrency: int = 8,
        timeout: float = 60.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        price_in_per_mtok: float = 0.0,
        price_out_per_mtok: float = 0.0,
    ) -> None:
        import httpx

        self.spec = f"openai:{model}"
        self.model = model
        self.base_url = (
            base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        ).rstrip("/")
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
        self.client = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            headers={"Authorization": f"Bearer {key}"} if key else {},
        )
        self.concurrency = max(1, concurrency)
        self.max_retries = max_retries
        self.backoff = backoff
        self.prices = (price_in_per_mtok, price_out_per_mtok)
        self.usage = {
            "requests": 0.0,
            "retries": 0.0,
            "prompt_tokens": 0.0,
            "completion_tokens": 0.0,
            "cost_usd": 0.0,
        }
        self._lock = threading.Lock()

    def generate(self, requests: Sequence[ChatRequest]) -> list[ChatResult]:
        with ThreadPoolExecutor(self.concurrency) as pool:
            return list(pool.map(self._one, requests))

    def _body(self, req: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": openai_messages(req),
            **req.sampling(),
        }
        if req.json_schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": req.json_schema},
            }
        return body

    def _one(self, req: ChatRequest) -> ChatResult:
        import httpx

        body = self._body(req)
        error = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                with self._lock:
                    self.usage["retries"] += 1
            try:
                r = self.client.post("/chat/completions", json=body)
            except httpx.TimeoutException:
                error = "timed out"
                time.sleep(self.backoff * 2**attempt)
                continue
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
                time.sleep(self.backoff * 2**attempt)
                continue
            if r.status_code in RETRY_STATUS:
                error = f"HTTP {r.status_code}"
                wait = r.headers.get("retry-after")
                time.sleep(
                    float(wait)
                    if wait and wait.replace(".", "", 1).isdigit()
                    else self.backoff * 2**attempt
                )
                continue
            if r.status_code >= 400:
                return ChatResult(text="", error=f"HTTP {r.status_code}: {r.text[:200]}")
            return self._result(r)
        return ChatResult(text="", error=f"{error} after {self.max_retries + 1} tries")

    def _result(self, r: Any) -> ChatResult:
        try:
            data = r.json()
            text = data["choices"][0]["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError):
            return ChatResult(text="", error=f"malformed response body: {r.text[:200]}")
        usage = data.get("usage") or {}
        p, c = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
        cost = (p * self.prices[0] + c * self.prices[1]) / 1e6
        with self._lock:
            self.usage["requests"] += 1
            self.usage["prompt_tokens"] += p
            self.usage["completion_tokens"] += c
            self.usage["cost_usd"] += cost
        return ChatResult(text=text, prompt_tokens=p, completion_tokens=c, cost_usd=cost)


class VLLMEngine:
    """vLLM's offline engine (GPU). Thin on purpose: build prompts, call ``chat``."""

    def __init__(
        self, model: str, llm: Any = None, max_image_side: int = 768, **engine_kwargs: Any
    ) -> None:
        try:
            import vllm
        except ImportError:
            raise ModelError(
                "vLLM is not installed (GPU machines only): pip install 'evokegraph[gpu]', "
                "or use transformers:MODEL or openai:MODEL"
            ) from None
        self.vllm = vllm
        self.spec = f"vllm:{model}"
        self.max_image_side = max_image_side
        self.llm = llm if llm is not None else vllm.LLM(model=model, **engine_kwargs)
        self.usage = {"requests": 0.0, "prompt_tokens": 0.0, "completion_tokens": 0.0}

    def _params(self, req: ChatRequest) -> Any:
        kw: dict[str, Any] = req.sampling()
        if req.json_schema is not None:
            sp = self.vllm.sampling_params
            if hasattr(sp, "StructuredOutputsParams"):  # vLLM >= 0.10
                kw["structured_outputs"] = sp.StructuredOutputsParams(json=req.json_schema)
            else:
                kw["guided_decoding"] = sp.GuidedDecodingParams(json=req.json_schema)
        return self.vllm.SamplingParams(**kw)

    def _messages(self, req: ChatRequest) -> list[dict[str, Any]]:
        msgs: list[dict[str, Any]] = [dict(m) for m in req.messages]
        if req.images:
            last = max(i for i, m in enumerate(msgs) if m["role"] == "user")
            parts: list[dict[str, Any]] = [{"type": "text", "text": msgs[last]["content"]}]
            for im in req.images:
                small = im.convert("RGB")
                small.thumbnail((self.max_image_side, self.max_image_side))
                parts.append({"type": "image_pil", "image_pil": small})
            msgs[last] = {"role": "user", "content": parts}
        return msgs

    def _raw(self, req: ChatRequest) -> dict[str, Any]:
        prompt: dict[str, Any] = {"prompt": req.raw_prompt}
        if req.images:
            prompt["multi_modal_data"] = {"image": [im.convert("RGB") for im in req.images]}
            if len(req.images) == 1:
                prompt["multi_modal_data"]["image"] = prompt["multi_modal_data"]["image"][0]
        return prompt

    def generate(self, requests: Sequence[ChatRequest]) -> list[ChatResult]:
        if not requests:
            return []
        try:
            params = [self._params(r) for r in requests]
            if all(r.raw_prompt is not None for r in requests):
                outs = self.llm.generate(
                    [self._raw(r) for r in requests], sampling_params=params, use_tqdm=False
                )
            else:
                outs = self.llm.chat(
                    [self._messages(r) for r in requests], sampling_params=params, use_tqdm=False
                )
        except Exception as exc:  # the whole batch failed: every request says why
            return [
                ChatResult(text="", error=f"vLLM: {type(exc).__name__}: {exc}") for _ in requests
            ]
        results = []
        for o in outs:
            text = o.outputs[0].text if o.outputs else ""
            p, c = len(o.prompt_token_ids or []), len(o.outputs[0].token_ids) if o.outputs else 0
            self.usage["requests"] += 1
            self.usage["prompt_tokens"] += p
            self.usage["completion_tokens"] += c
            results.append(ChatResult(text=text, prompt_tokens=p, completion_tokens=c))
        return results


class TransformersEngine:
    """Hugging Face transformers ``generate`` (CPU or GPU), batched, chat templates.

    Takes a hub name or a local dir. Text-only causal LMs load with
    ``AutoModelForCausalLM``; models with a vision config load with
    ``AutoProcessor`` + ``AutoModelForImageTextToText`` and get the request's
    images. transformers has no schema-constrained decoding here: the schema
    travels in the prompt and every answer is validated by the caller.
    """

    def __init__(
        self,
        model: str,
        device: str | None = None,
        batch_size: int = 8,
        dtype: str = "auto",
        trust_remote_code: bool = False,
        max_model_len: int | None = None,
    ) -> None:
        import torch
        import transformers

        hf: Any = transformers  # its loaders are partly untyped
        self.spec = f"transformers:{model}"
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.batch_size = batch_size
        self.max_model_len = max_model_len
        remote = {"trust_remote_code": True} if trust_remote_code else {}
        offline = (
            os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("TRANSFORMERS_OFFLINE") == "1"
        )
        self.processor: Any = None
        self.tokenizer: Any = None
        self.model: Any = None
        try:
            cfg = hf.AutoConfig.from_pretrained(model, local_files_only=offline, **remote)
            self.vision = hasattr(cfg, "vision_config")
            if self.vision:
                self.processor = hf.AutoProcessor.from_pretrained(
                    model, local_files_only=offline, **remote
                )
                self.tokenizer = self.processor.tokenizer
                self.model = hf.AutoModelForImageTextToText.from_pretrained(
                    model, local_files_only=offline, dtype=dtype, **remote
                )
            else:
                self.tokenizer = hf.AutoTokenizer.from_pretrained(
                    model, local_files_only=offline, **remote
                )
                self.model = hf.AutoModelForCausalLM.from_pretrained(
                    model, local_files_only=offline, dtype=dtype, **remote
                )
        except OSError as exc:
            raise ModelError(
                f"cannot load transformers model {model!r} ({str(exc).splitlines()[0][:120]}); "
                "offline, download it where the hub is reachable and pass transformers:/path/to/dir"
            ) from None
        self.model.to(self.device).eval()
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.usage = {"requests": 0.0, "prompt_tokens": 0.0, "completion_tokens": 0.0}

    def _prompt(self, req: ChatRequest) -> str:
        if req.raw_prompt is not None:
            return req.raw_prompt
        msgs: list[dict[str, Any]] = [dict(m) for m in req.messages]
        if req.json_schema is not None:
            msgs[-1]["content"] += "\nJSON schema of the answer: " + json.dumps(req.json_schema)
        if self.vision and req.images:
            last = max(i for i, m in enumerate(msgs) if m["role"] == "user")
            msgs[last]["content"] = [{"type": "image"} for _ in req.images] + [
                {"type": "text", "text": msgs[last]["content"]}
            ]
        owner = self.processor if self.vision else self.tokenizer
        return str(owner.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False))

    def generate(self, requests: Sequence[ChatRequest]) -> list[ChatResult]:
        out: list[ChatResult] = []
        for i in range(0, len(requests), self.batch_size):
            chunk = list(requests[i : i + self.batch_size])
            try:
                out += self._batch(chunk)
            except Exception as exc:  # one bad batch: every request in it says why
                out += [
                    ChatResult(text="", error=f"transformers: {type(exc).__name__}: {exc}")
                    for _ in chunk
                ]
        return out

    def _batch(self, reqs: list[ChatRequest]) -> list[ChatResult]:
        import torch

        prompts = [self._prompt(r) for r in reqs]
        if self.vision and any(r.images for r in reqs):
            enc = self.processor(
                text=prompts,
                images=[im for r in reqs for im in r.images],
                return_tensors="pt",
                padding=True,
            )
        else:
            cut = (
                {"truncation": True, "max_length": self.max_model_len} if self.max_model_len else {}
            )
            enc = self.tokenizer(
                prompts, return_tensors="pt", padding=True, add_special_tokens=False, **cut
            )
        enc = enc.to(self.device)
        r0 = reqs[0]
        with torch.no_grad():
            ids = self.model.generate(
                **enc,
                max_new_tokens=max(r.max_tokens for r in reqs),
                do_sample=r0.temperature > 0,
                temperature=r0.temperature if r0.temperature > 0 else None,
                top_p=r0.top_p if r0.temperature > 0 else None,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        new = ids[:, enc["input_ids"].shape[1] :]
        texts = self.tokenizer.batch_decode(new, skip_special_tokens=True)
        results = []
        for row, text in zip(new, texts, strict=True):
            n = int((row != self.tokenizer.pad_token_id).sum())
            self.usage["requests"] += 1
            self.usage["prompt_tokens"] += int(enc["input_ids"].shape[1])
            self.usage["completion_tokens"] += n
            results.append(
                ChatResult(
                    text=text, prompt_tokens=int(enc["input_ids"].shape[1]), completion_tokens=n
                )
            )
        return results


ENGINES.add("transformers", TransformersEngine, "Hugging Face transformers generate (CPU/GPU)")
ENGINES.add("openai", OpenAIEngine, "OpenAI-compatible HTTP (vLLM server, hosted APIs)")
ENGINES.add("vllm", VLLMEngine, "vLLM offline engine (GPU only)")
