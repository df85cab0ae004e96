"""`evokegraph cypher` names the store's Cypher dialect when a query fails for a
dialect reason, on both backends, through the installed entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from evokegraph.graph.dialect import clean, describe, explain

EXE = Path(sys.executable).parent / "evokegraph"
SLOW = pytest.mark.slow  # two entry-point runs per store each (make test runs them)


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(EXE), *args], capture_output=True, text=True, timeout=120)


def test_explain_names_the_dialect_only_for_dialect_reasons() -> None:
    lady = explain(
        "ladybug", "query failed: Runtime exception: List extract takes 1-based position."
    )
    assert lady and "LadybugDB's Cypher" in lady and "indexed from 1" in lady
    neo = explain(
        "neo4j",
        "query failed: {neo4j_code: Neo.ClientError.Statement.SyntaxError} {message: UnknownFunction:"
        " Unknown function 'list_to_string'} {gql_status: 50N42} {gql_status_description: x}",
    )
    assert neo and "Neo4j 5 Cypher" in neo and "reduce(" in neo and "gql_status" not in neo
    assert explain("ladybug", "query failed: Runtime exception: Divide by zero.") is None
    assert describe(
        "neo4j", "query failed: {neo4j_code: X} {message: / by zero} {gql_status: 1}"
    ) == ("query failed: / by zero")
    assert "ALTER" not in clean(
        "Parser exception: extraneous input 'X' expecting {ALTER, ANALYZE} (line: 1)"
    )


@pytest.mark.parametrize(
    ("query", "ladybug_says", "neo4j_says"),
    [  # the fast loop runs the last (both dialects named); explain() above covers the rest
        pytest.param("RETURN [1, 2][0] AS x", "lists are indexed from 1", None, marks=SLOW),
        pytest.param(
            "RETURN list_to_string(',', ['a']) AS x",
            None,
            "list_to_string() is not a function here",
            marks=SLOW,
        ),
        pytest.param("RETURN toString(1) AS x", "use string()", None, marks=SLOW),
        (
            "MATCHX (n) RETURN n",
            "This store speaks LadybugDB's Cypher",
            "This store speaks Neo4j 5 Cypher",
        ),
    ],
)
def test_cypher_errors_name_the_dialect(
    backend: object, query: str, ladybug_says: str | None, neo4j_says: str | None
) -> None:
    args = backend.args  # type: ignore[attr-defined]
    assert _run([*args, "init"]).returncode == 0
    said = ladybug_says if backend.name == "ladybug" else neo4j_says  # type: ignore[attr-defined]
    r = _run([*args, "cypher", query])
    if said is None:  # the other dialect: the query runs
        assert r.returncode == 0, r.stderr
        return
    assert r.returncode == 2
    line = r.stderr.strip()
    assert line.startswith("Error: ") and "\n" not in line, r.stderr
    assert said in line and "docs/graph.md#cypher-dialects" in line, line
