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
