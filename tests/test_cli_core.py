"""The CLI's core commands: init, stats, cypher, errors, help."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer

from evokegraph.cli import app, main

CLI_DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"  # the command reference


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_init_stats_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "k.kb")
    code, out, _ = run(capsys, "--db", db, "init")
    assert code == 0 and "knowledge base ready" in out
    code, out, _ = run(capsys, "--db", db, "stats", "--json")
    assert code == 0
    assert json.loads(out) == {
        "images": 0,
        "elements": 0,
        "concepts": 0,
        "evokes": 0,
        "associated_with": 0,
        "captions": 0,
        "failures": 0,
        "runs": 0,
        "coverage": {str(d): 0.0 for d in range(1, 6)},
        "mean_weight": {str(d): None for d in range(1, 6)},
    }


def test_db_from_env(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVOKEGRAPH_DB", str(tmp_path / "env.kb"))
    assert run(capsys, "init")[0] == 0
    assert (tmp_path / "env.kb").exists()


def test_cypher_read_write_and_params(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "k.kb")
    run(capsys, "--db", db, "init")
    code, _, err = run(capsys, "--db", db, "cypher", "CREATE (:Concept {name: 'x'})")
    assert code == 2
    assert (
        err.strip()
        == "Error: refusing a query that writes; add --write to run it (read-only by default)"
    )
    code, _, _ = run(
        capsys, "--db", db, "cypher", "--write", "MERGE (:Concept {name: $n})", "-p", "n=tree"
    )
    assert code == 0
    code, out, _ = run(
        capsys, "--db", db, "cypher", "--json", "MATCH (c:Concept) RETURN c.name AS name"
    )
    assert code == 0 and json.loads(out) == [{"name": "tree"}]
    code, _, err = run(capsys, "--db", db, "cypher", "MATCH (c:Nope) RETURN c")
    assert (
        code == 2 and err.startswith("Error: query failed:") and len(err.strip().splitlines()) == 1
    )
    code, _, err = run(capsys, "--db", db, "cypher", "RETURN 1", "-p", "oops")
    assert code == 2 and "bad parameter 'oops'; write it as key=value" in err


def test_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--db", str(tmp_path / "none.kb"), "stats")
    assert code == 1
    assert err.strip().splitlines() == [
        f"Error: no knowledge base at {tmp_path / 'none.kb'}; create one with "
        f"`evokegraph --db {tmp_path / 'none.kb'} init`"
    ]
    assert "Traceback" not in out + err
    code, _, err = run(capsys, "--backend", "neo4j", "stats")
    assert code == 2 and "EVOKEGRAPH_NEO4J_URI" in err


def _commands(group: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """All (sub)commands; duck-typed because typer may ship its own click."""
    out = []
    for name, cmd in sorted(group.commands.items()):
        full = f"{prefix}{name}"
        out.append((full, cmd))
        if hasattr(cmd, "commands"):
            out += _commands(cmd, full + " ")
    return out


def test_every_command_has_help_and_is_documented() -> None:
    root = typer.main.get_command(app)
    assert hasattr(root, "commands")
    readme = CLI_DOC.read_text(encoding="utf-8")
    for name, cmd in _commands(root):
        assert (cmd.help or cmd.short_help or "").strip(), f"`evokegraph {name}` has no help text"
        assert f"evokegraph {name}" in readme, f"`evokegraph {name}` is not in docs/cli.md"
        for p in cmd.params:
            if p.param_type_name == "option" and not getattr(p, "hidden", False):
                assert p.help, f"option {p.opts} of `evokegraph {name}` has no help"
