"""The Python API: README's "Python API" block, run as written, on the sample."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
import torch

import evokegraph
from evokegraph import api
from evokegraph.errors import UserInputError

torch.set_num_threads(1)
README = Path(__file__).resolve().parents[1] / "README.md"


def readme_api_block() -> str:
    """The first ```python block under the README's '## Python API' heading."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Python API\n", 1)
    assert len(section) == 2, "README.md has no '## Python API' section"
    body = section[1].split("\n## ", 1)[0]
    m = re.search(r"```python\n(.*?)```", body, re.S)
    assert m, "the README's Python API section has no python code block"
    return m.group(1)


def test_public_names_resolve() -> None:
    for name in evokegraph.__all__:
        assert getattr(evokegraph, name) is not None, name
    assert issubclass(evokegraph.UserInputError, evokegraph.EvokeGraphError)
    with pytest.raises(AttributeError):
        _ = evokegraph.no_such_name
    assert evokegraph.open_kb is api.open_kb and evokegraph.export is api.export


@pytest.mark.slow
def test_readme_example_runs_on_the_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(readme_api_block(), "README.md#python-api", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out.splitlines()
    n_images = len(list((tmp_path / "sample").glob("*.jpg")))
    assert out[0] == f"{n_images} images ingested, 0 failed"
    # a depth-5 caption with its graph path, then the export's counts
    assert out[1] and "[" in out[1]
    rows = eval(out[2])  # the printed ExportSummary.rows(): a list of dicts
    assert {r["depth"] for r in rows} == {0, 1, 3, 5}
    written = {p.name for p in (tmp_path / "pairs").glob("*.csv")}
    assert written == {f"{s}.csv" for s in {r["split"] for r in rows}}
    with (tmp_path / "pairs" / "train.csv").open(newline="", encoding="utf-8") as f:
        assert next(csv.DictReader(f, delimiter="\t"))["title"]
    # the same functions behind the CLI: a second ingest changes nothing
    with evokegraph.open_kb(tmp_path / "demo.kb") as kb:
        again = api.ingest(kb, tmp_path / "sample")
        assert (again.new, again.skipped) == (0, n_images)


def test_api_errors_name_the_fix(tmp_path: Path) -> None:
    with evokegraph.open_kb(tmp_path / "k.kb", create=True) as kb:
        with pytest.raises(UserInputError, match="unknown ingest setting.*known: .*extractor"):
            api.ingest(kb, [tmp_path], extractr="x")
        with pytest.raises(UserInputError, match="no pairs to export; caption the images"):
            evokegraph.export(kb, tmp_path / "out")
        with pytest.raises(UserInputError, match="bad split ratio"):
            evokegraph.export(kb, tmp_path / "out", split_ratio="train")


# -- ingest: the reference preset and the Ray engine, through the API ------------
class EchoChat:
    """A chat engine answering the association prompt: each word -> word+distance."""

    usage: dict[str, float] = {}

    def __init__(self, model: str, **options: object) -> None:
        self.spec = f"echo:{model}"

    def generate(self, requests: list) -> list:
        import ast
        import json

        from evokegraph.models.chat import ChatResult

        out = []
        for r in requests:
            words = ast.literal_eval(r.messages[-1]["content"])
            answer = {w: {str(d): [f"{w}{d}"] for d in range(1, 6)} for w in words}
            out.append(ChatResult(text=json.dumps(answer)))
        return out


@pytest.fixture
def echo_engine() -> object:
    from evokegraph.models.chat import ENGINES

    with ENGINES.registered("echo", EchoChat):
        yield


def _captioned(tmp_path: Path, jpeg: object) -> Path:
    d = tmp_path / "imgs"
    for i, text in enumerate(["a dog and a ball", "a red kite over the sea", "a cup of coffee"]):
        jpeg(d / f"{i}.jpg", (40 * i, 90, 10), text)  # type: ignore[operator]
    return d


def test_api_ingest_applies_the_reference_preset(
    tmp_path: Path, jpeg: object, echo_engine: None
) -> None:
    src = _captioned(tmp_path, jpeg)
    with evokegraph.open_kb(tmp_path / "k.kb", create=True) as kb:
        s = api.ingest(
            kb, src, preset="reference", miner_options={"spec": "echo:m", "cache": "off"}
        )
        assert (s.new, s.failed) == (3, 0) and s.associations > 0
        (run,) = kb.runs()
        assert run.config["miner"] == "llm"
        assert str(run.config["miner_settings"]["prompt"]).startswith("reference")  # type: ignore[index]
        with pytest.raises(UserInputError, match="pass --llm"):
            api.ingest(kb, src, preset="reference")


@pytest.mark.ray
def test_api_ingest_runs_the_ray_engine_to_the_local_graph(
    tmp_path: Path, jpeg: object, snapshot: object
) -> None:
    ray = pytest.importorskip("ray")
    from evokegraph.ingest.config import RayOptions

    src = _captioned(tmp_path, jpeg)
    settings = {"extractor": "caption-text", "miner": "lexical", "batch_size": 2}
    with evokegraph.open_kb(tmp_path / "local.kb", create=True) as kb:
        api.ingest(kb, src, **settings)
        want = snapshot(kb)  # type: ignore[operator]
    opts = RayOptions(workers=1, shard_size=2, cpus_per_worker=0.5, local_cpus=2)
    try:
        with evokegraph.open_kb(tmp_path / "ray.kb", create=True) as kb:
            s = api.ingest(kb, src, engine="ray", ray=opts, **settings)
            assert s.shards is not None and (s.shards.total, s.shards.run) == (2, 2)
            assert s.shards.root == tmp_path / "ray.kb.shards"
            assert s.shards.load is not None and s.shards.load.mode == "copy"
            assert snapshot(kb) == want  # type: ignore[operator]
    finally:
        ray.shutdown()


def test_a_second_ingest_of_the_session_sample_skips_everything(
    sample_kb: Path, ingested_sample: tuple[Path, Path]
) -> None:
    """The session's ingested sample (copied for this test), run again through the API."""
    with evokegraph.open_kb(sample_kb) as kb:
        before = kb.stats()
        s = api.ingest(kb, ingested_sample[1])
        assert (s.new, s.failed, s.skipped) == (0, 0, before.images)
        assert kb.stats() == before.model_copy(update={"runs": before.runs + 1})
