"""Model backends: answer repair, the OpenAI-compatible engine on a local server,
the vLLM adapter on a stand-in, the LLM miner and VLM extractor with the cache."""

from __future__ import annotations

import json
import sys
import threading
import time
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from evokegraph.errors import ModelOutputError
from evokegraph.ingest.models.backends import LLMMiner, VLMExtractor
from evokegraph.ingest.models.parsing import parse_associations, parse_extraction
from evokegraph.ingest.stages import ImageItem, MiningInput
from evokegraph.models.chat import ChatRequest, load_engine
from evokegraph.records import Element, ImageRecord
from evokegraph.runs import Failed

GOOD = {"dog": {f"distance {d}": [f"w{d}a", f"w{d}b", f"w{d}c"] for d in range(1, 6)}}


# -- the malformed-answer corpus ----------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (json.dumps(GOOD), {1: ["w1a", "w1b", "w1c"], 5: ["w5a", "w5b", "w5c"]}),
        (
            "Sure! Here it is:\n```json\n" + json.dumps(GOOD) + "\n```\nHope this helps.",
            {1: ["w1a", "w1b", "w1c"]},
        ),
        (
            '{"dog": {"distance 1": ["puppy", "hound"], "distance 2": ["pet"',
            {1: ["puppy", "hound"], 2: ["pet"]},
        ),
        (
            '{"dog": {"Distance 1": "puppy, hound", "distance_2": ["pet"], "3": ["walk"], "d4": ["loyalty"], "level 5": ["love"]}}',
            {1: ["puppy", "hound"], 2: ["pet"], 3: ["walk"], 4: ["loyalty"], 5: ["love"]},
        ),
        (
            '{"dog": [["puppy"], ["pet"], ["walk"], ["loyalty"], ["love"]]}',
            {1: ["puppy"], 5: ["love"]},
        ),
        (
            '{"dog": {"distance 1": ["dog", "Dog", "puppy", "puppy", "a' + "x" * 80 + '"]}}',
            {1: ["puppy"]},
        ),
        (
            '{"DOG": {"distance 3": ["x\'})-[r]-() DELETE r", "`rm`"]}}',
            {3: ["x'})-[r]-() DELETE r", "`rm`"]},
        ),
        ('{"associations": {"dog": {"distance 1": ["puppy"]}}}', {1: ["puppy"]}),
    ],
)
def test_repairable_answers(raw: str, expected: dict[int, list[str]]) -> None:
    got = parse_associations(raw, ["dog"])["dog"]
    for d, words in expected.items():
        assert got[d] == words


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty answer"),
        ("I cannot help with that.", "no JSON object"),
        ('["puppy", "pet"]', "expected an object of words, got list"),
        ('{"cat": {"distance 1": ["kitten"]}}', "no usable associations for the asked words"),
        ('{"dog": {"closeness": ["puppy"]}}', "distances must be 1..5"),
        ('{"dog": {"distance 1": ["dog", "DOG"]}}', "no usable associations"),
    ],
)
def test_unusable_answers_fail_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(ModelOutputError, match=reason) as exc:
        parse_associations(raw, ["dog"])
    assert exc.value.raw == raw


def test_extraction_answers() -> None:
    ans = parse_extraction(
        '{"description": "A dog.", "elements": ["dog", {"name": "beach", "pos": "noun", "salience": 0.5}, "Dog"]}'
    )
    assert [(e.name, e.pos) for e in ans.elements] == [("dog", "NOUN"), ("beach", "NOUN")]
    with pytest.raises(ModelOutputError, match="elements: List should have at least 1 item"):
        parse_extraction('{"description": "nothing", "elements": []}')
    with pytest.raises(ModelOutputError, match="Extra inputs are not permitted"):
        parse_extraction('{"description": "d", "elements": [{"name": "dog", "colour": "red"}]}')


# -- a local OpenAI-compatible server ------------------------------------------
class Server:
    """Answers /v1/chat/completions from a script of (status, body, delay)."""

    def __init__(self, script: list[tuple[int, Any, float]]) -> None:
        self.script = list(script)
        self.bodies: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.bodies.append(body)
                status, payload, delay = (
                    outer.script.pop(0) if outer.script else (200, ok_body("{}"), 0)
                )
                time.sleep(delay)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()


def ok_body(text: str) -> dict[str, Any]:
    return {
        "choices": [{"message": {"content": text}}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20},
    }


@pytest.fixture
def server():
    servers: list[Server] = []

    def make(script: list[tuple[int, Any, float]]) -> Server:
        s = Server(script)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.close()


def test_openai_engine_retries_and_accounts(server) -> None:
    s = server(
        [(429, {"error": "slow down"}, 0), (500, {"error": "oops"}, 0), (200, ok_body("hello"), 0)]
    )
    eng = load_engine(
        "openai:gpt-4o-mini",
        base_url=s.url,
        api_key="k",
        backoff=0.01,
        price_in_per_mtok=0.15,
        price_out_per_mtok=0.6,
        concurrency=1,
    )
    img = Image.new("RGB", (2000, 1000), "red")
    (res,) = eng.generate(
        [
            ChatRequest(
                messages=[{"role": "user", "content": "hi"}],
                images=[img],
                json_schema={"type": "object"},
                seed=3,
            )
        ]
    )
    assert res.text == "hello" and res.error == ""
    assert eng.usage["retries"] == 2 and eng.usage["prompt_tokens"] == 100
    assert res.cost_usd == pytest.approx((100 * 0.15 + 20 * 0.6) / 1e6)
    body = s.bodies[-1]
    assert body["response_format"]["type"] == "json_schema" and body["seed"] == 3
    part = body["messages"][0]["content"][1]
    assert part["type"] == "image_url" and part["image_url"]["url"].startswith(
        "data:image/jpeg;base64,"
    )


def test_openai_engine_gives_up_and_reports(server) -> None:
    s = server([(503, {}, 0)] * 3 + [(400, {"error": "bad request"}, 0), (200, b"not json", 0)])
    eng = load_engine(
        "openai:m", base_url=s.url, api_key="", backoff=0.01, max_retries=2, concurrency=1
    )
    r1, r2, r3 = eng.generate(
        [ChatRequest(messages=[{"role": "user", "content": str(i)}]) for i in range(3)]
    )
    assert r1.error == "HTTP 503 after 3 tries"
    assert r2.error.startswith("HTTP 400")
    assert r3.error.startswith("malformed response body")


def test_openai_engine_timeout_then_success(server) -> None:
    s = server([(200, ok_body("late"), 1.0), (200, ok_body("on time"), 0)])
    eng = load_engine("openai:m", base_url=s.url, timeout=0.3, backoff=0.01, concurrency=1)
    (res,) = eng.generate([ChatRequest(messages=[{"role": "user", "content": "x"}])])
    assert res.text == "on time" and eng.usage["retries"] == 1


# -- the miner and extractor end to end -------------------------------------------
def mining_input(caption: str = "a dog on a beach") -> MiningInput:
    item = ImageItem(record=ImageRecord(id="d" * 64, captions=[caption]))
    return MiningInput(
        item=item,
        description="A brown dog runs on a sunny beach.",
        elements=[
            Element(name="dog", concept="dog"),
            Element(name="beach", concept="beach", rank=1),
        ],
    )


def test_llm_miner_through_openai_with_cache(server, tmp_path: Path) -> None:
    answer = json.dumps(
        {
            "dog": {f"distance {d}": [f"dog{d}"] for d in range(1, 6)},
            "beach": {f"distance {d}": [f"beach{d}", "beach"] for d in range(1, 6)},
        }
    )
    s = server([(200, ok_body(answer), 0), (200, ok_body("garbage"), 0)])
    miner = LLMMiner(
        "openai:gpt-4o-mini", cache=tmp_path / "c.sqlite", base_url=s.url, backoff=0.01
    )
    (evs,) = miner.mine([mining_input()])
    assert isinstance(evs, list) and len(evs) == 10
    assert {(e.element, e.distance, e.concept) for e in evs if e.distance == 4} == {
        ("dog", 4, "dog4"),
        ("beach", 4, "beach4"),
    }
    assert "Literal caption: a dog on a beach" in s.bodies[0]["messages"][1]["content"]
    assert s.bodies[0]["response_format"]["json_schema"]["schema"]["required"] == ["dog", "beach"]
    again = LLMMiner("openai:gpt-4o-mini", cache=tmp_path / "c.sqlite", base_url=s.url)
    assert (
        again.mine([mining_input()]) == [evs] and len(s.bodies) == 1 and again.usage["cached"] == 1
    )
    (failed,) = again.mine([mining_input("another caption")])  # not cached: the server says garbage
    assert (
        isinstance(failed, Failed)
        and failed.reason.startswith("malformed answer: no JSON")
        and failed.raw == "garbage"
    )


def test_vllm_adapter_on_a_stand_in(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: dict[str, Any] = {}

    class SamplingParams:
        def __init__(self, **kw: Any) -> None:
            self.kw = kw

    class GuidedDecodingParams:
        def __init__(self, json: Any) -> None:
            self.json = json

    class Out:
        def __init__(self, text: str) -> None:
            self.outputs = [types.SimpleNamespace(text=text, token_ids=[1, 2, 3])]
            self.prompt_token_ids = [1] * 10

    class LLM:
        def __init__(self, model: str, **kw: Any) -> None:
            calls["model"], calls["kw"] = model, kw

        def chat(
            self, messages: list[Any], sampling_params: list[Any], use_tqdm: bool = True
        ) -> list[Out]:
            calls["messages"], calls["params"] = messages, sampling_params
            return [
                Out(
                    '{"description": "A red square.", "elements": [{"name": "square", "pos": "NOUN", "salience": 0.9}]}'
                )
                for _ in messages
            ]

    fake = types.ModuleType("vllm")
    fake.LLM, fake.SamplingParams = LLM, SamplingParams
    fake.sampling_params = types.SimpleNamespace(GuidedDecodingParams=GuidedDecodingParams)
    monkeypatch.setitem(sys.modules, "vllm", fake)
    vlm = VLMExtractor("vllm:Qwen/Qwen2.5-VL-7B-Instruct", cache="off", tensor_parallel_size=1)
    big = Image.new("RGB", (3000, 1500), "red")
    (ex,) = vlm.extract([ImageItem(record=ImageRecord(id="e" * 64), image=big)])
    assert [e.concept for e in ex.elements] == ["square"] and ex.description == "A red square."
    assert calls["model"] == "Qwen/Qwen2.5-VL-7B-Instruct" and calls["kw"] == {
        "tensor_parallel_size": 1
    }
    part = calls["messages"][0][0]["content"][1]
    assert (
        part["type"] == "image_pil" and max(part["image_pil"].size) == 768
    )  # resized before the engine
    assert calls["params"][0].kw["guided_decoding"].json["required"] == ["description", "elements"]
    assert vlm.engine.usage["completion_tokens"] == 3


def test_vllm_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from evokegraph.errors import ModelError

    monkeypatch.setitem(sys.modules, "vllm", None)
    with pytest.raises(ModelError, match=r"vLLM is not installed \(GPU machines only\)"):
        load_engine("vllm:some/model")


def test_ingest_cli_with_the_llm_miner(
    server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`evokegraph ingest --miner llm --llm openai:...` end to end, tokens in the Run."""
    from evokegraph.cli import main
    from evokegraph.graph.ladybug_store import LadybugStore

    s = server([])

    def answer_for(body: dict[str, Any]) -> dict[str, Any]:
        words = body["response_format"]["json_schema"]["schema"]["required"]
        return ok_body(
            json.dumps({w: {f"distance {d}": [f"{w}-{d}"] for d in range(1, 6)} for w in words})
        )

    s.script = []
    original = s.httpd.RequestHandlerClass.do_POST

    def do_post(handler: Any) -> None:
        body = json.loads(handler.rfile.read(int(handler.headers["Content-Length"])))
        s.bodies.append(body)
        data = json.dumps(answer_for(body)).encode()
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    monkeypatch.setattr(s.httpd.RequestHandlerClass, "do_POST", do_post)
    assert original is not do_post
    monkeypatch.setenv("EVOKEGRAPH_CACHE", str(tmp_path / "cache"))
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    for name, colour in (("a", "red"), ("b", "blue")):
        Image.new("RGB", (8, 8), colour).save(imgs / f"{name}.png")
        (imgs / f"{name}.txt").write_text(f"a {colour} kite in the sky")
    db = str(tmp_path / "k.kb")
    assert main(["--db", db, "init"]) == 0
    code = main(
        [
            "--db",
            db,
            "ingest",
            str(imgs),
            "--miner",
            "llm",
            "--llm",
            "openai:test-model",
            "--llm-base-url",
            s.url,
            "--llm-api-key",
            "sk-test",
            "--no-progress",
        ]
    )
    assert code == 0 and len(s.bodies) == 2
    with LadybugStore(Path(db), read_only=True) as kb:
        assert kb.stats().evokes == 2 * 3 * 5  # colour, kite, sky per image; 5 distances
        (run,) = kb.runs()
        assert run.counts["associations_prompt_tokens"] == 200 and run.config["miner"] == "llm"


def test_agreement_across_repeated_mentions_raises_the_weight() -> None:
    from evokegraph.ingest.models.parsing import mention_counts
    from evokegraph.weights import evokes_weight

    raw = '{"dog": {"distance 3": ["walk", "park"], "distance 4": ["walk", "loyalty"]}}'
    assert mention_counts(raw, ["dog"]) == {
        ("dog", "walk"): 2,
        ("dog", "park"): 1,
        ("dog", "loyalty"): 1,
    }
    assert parse_associations(raw, ["dog"])["dog"][4] == ["loyalty"]  # kept once, at distance 3
    assert evokes_weight(0, mentions=2) > evokes_weight(0, mentions=1)
