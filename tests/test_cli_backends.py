"""The CLI end to end on both backends: LadybugDB and the live Bolt server.

init, ingest (twice: nothing changes), caption, show, query, export, stats
and the read-only guard of ``cypher``, with the same expected answers on
both. The Bolt server is the session's ``bolt_server`` (ArcadeDB from the
``server`` extra, or a real Neo4j through EVOKEGRAPH_NEO4J_URI).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from evokegraph.cli import main

CAPTIONS = ["red dog beach", "blue dog snow", "green tree snow", "grey rock"]


def cli(capsys: pytest.CaptureFixture[str], backend: Any, *args: str) -> tuple[int, str, str]:
    code = main([*backend.args, *args])
    out, err = capsys.readouterr()
    return code, out, err


def stats(capsys: pytest.CaptureFixture[str], backend: Any) -> dict[str, int]:
    code, out, err = cli(capsys, backend, "stats", "--json")
    assert code == 0, err
    # the counts (stats --json also carries per-distance coverage shares)
    return {k: v for k, v in json.loads(out).items() if isinstance(v, int)}


def images(d: Path) -> Path:
    d.mkdir()
    for i, text in enumerate(CAPTIONS):
        Image.new("RGB", (8, 8), (40 * i, 10, 10)).save(d / f"{i}.png")
        (d / f"{i}.txt").write_text(text)
    return d


def test_cli_flow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], backend: Any, fake_stages: dict[str, str]
) -> None:
    code, _, err = cli(capsys, backend, "stats")
    assert code != 0 and len(err.strip().splitlines()) == 1 and "init" in err
    code, out, _ = cli(capsys, backend, "init")
    assert code == 0 and f"({backend.name})" in out
    assert set(stats(capsys, backend).values()) == {0}

    folder = images(tmp_path / "imgs")
    ingest = ("ingest", str(folder), "--extractor", "test-words", "--miner", "test-suffix")
    code, _, err = cli(capsys, backend, *ingest, "--no-progress")
    assert code == 0, err
    first = stats(capsys, backend)
    # 11 words, 9 distinct; 5 suffixes each
    expected = {"images": 4, "elements": 11, "concepts": 9 + 45, "evokes": 55, "failures": 0}
    assert {k: first[k] for k in expected} == expected
    assert first["associated_with"] == 45 and first["runs"] == 1
    # the mean weight per distance: what the EVOKES edges there hold, on both backends
    code, out, _ = cli(capsys, backend, "stats", "--json")
    means = json.loads(out)["mean_weight"]
    code, out, _ = cli(
        capsys,
        backend,
        "cypher",
        "MATCH ()-[r:EVOKES]->() RETURN r.distance AS d, r.weight AS w",
        "--json",
    )
    by_d: dict[int, list[float]] = {}
    for row in json.loads(out):
        by_d.setdefault(int(row["d"]), []).append(float(row["w"]))
    assert {int(d): v for d, v in means.items() if v is not None} == {
        d: pytest.approx(sum(ws) / len(ws), abs=1e-4) for d, ws in by_d.items()
    }
    code, _, err = cli(capsys, backend, *ingest, "--no-progress")
    assert code == 0, err
    again = stats(capsys, backend)
    assert {k: v for k, v in again.items() if k != "runs"} == {
        k: v for k, v in first.items() if k != "runs"
    }

    code, _, err = cli(capsys, backend, "caption", "--depth", "1", "--depth", "3")
    assert code == 0, err
    # depths 1 and 3 of 4 images: the same 6 captions on both backends
    assert stats(capsys, backend)["captions"] == 6
    code, out, _ = cli(capsys, backend, "show", str(folder / "1.png"), "--json")
    view = json.loads(out)
    assert [e["concept"] for e in view["elements"]] == ["blue", "dog", "snow"]
    assert sorted(c["depth"] for c in view["captions"]) == [1, 3]

    code, out, err = cli(
        capsys, backend, "query", "run", "evokes", "-p", "concept=dog", "--format", "json"
    )
    assert code == 0, err
    rows = json.loads(out)
    assert [(r["distance"], r["association"], r["support"]) for r in rows] == [
        (d, f"dog-{d}", 2) for d in range(1, 6)
    ]

    code, _, err = cli(capsys, backend, "export", str(tmp_path / "out"), "--format", "csv")
    assert code == 0, err
    pairs = []
    for f in sorted((tmp_path / "out").glob("*.csv")):
        with open(f, newline="", encoding="utf-8") as fh:
            pairs += list(csv.DictReader(fh))
    assert len(pairs) == 4 + 6  # the images' own captions + the generated ones


def test_cypher_read_only_guard(capsys: pytest.CaptureFixture[str], backend: Any) -> None:
    assert cli(capsys, backend, "init")[0] == 0
    for q in ("CREATE (:Concept {name: 'x'})", "MATCH (c:Concept) DETACH DELETE c"):
        code, _, err = cli(capsys, backend, "cypher", q)
        assert code == 2 and err.startswith("Error: refusing a query that writes")
        assert len(err.strip().splitlines()) == 1
    assert stats(capsys, backend)["concepts"] == 0
    code, _, err = cli(
        capsys, backend, "cypher", "--write", "MERGE (:Concept {name: $n})", "-p", "n=tree"
    )
    assert code == 0, err
    code, out, _ = cli(
        capsys, backend, "cypher", "--json", "MATCH (c:Concept) RETURN c.name AS name"
    )
    assert code == 0 and json.loads(out) == [{"name": "tree"}]
