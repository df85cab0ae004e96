"""The Cypher dialect a store speaks, and what a failed query's error says about it.

LadybugDB (Kuzu's Cypher) and Neo4j 5 (and Bolt servers that speak its Cypher,
such as ArcadeDB) differ in places a user meets: list positions, some function
names, path functions, procedures. Everything evokegraph sends itself is in
the Cypher both accept; a user's own query may not be. When one fails for a
reason of that kind, :func:`explain` gives the error one line that names the
dialect the store speaks and the difference, and points at the table of
differences (``docs/graph.md#cypher-dialects``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DOCS = "docs/graph.md#cypher-dialects"


@dataclass(frozen=True)
class Dialect:
    backend: str
    name: str
    # (pattern in the error message, what to say about it)
    hints: tuple[tuple[str, str], ...]
    # functions of the other dialect -> this dialect's spelling
    functions: dict[str, str]


LADYBUG = Dialect(
    backend="ladybug",
    name="LadybugDB's Cypher (the Kuzu dialect)",
    hints=(
        (r"1-based position", "lists are indexed from 1 here: list[1] is the first element"),
        (r"Cannot find property", "a property not in the schema is an error here, not null"),
        (
            r"Lambda paramName|parsed_parameter_expression",
            "bind a parameter with WITH $p AS p (or UNWIND) before using it inside any()/all()/[x IN ...]",
        ),
        (r"CALL db\.|CALL dbms\.", "procedures differ: CALL show_tables() lists the tables"),
    ),
    functions={
        "tostring": "string()",
        "reduce": "list_reduce() (or do it in a client)",
        "relationships": "rels()",
        "labels": "label()",
        "shortestpath": "-[* SHORTEST 1..n]-",
        "apoc": "no APOC: built-in list_*/string functions",
    },
)
NEO4J = Dialect(
    backend="neo4j",
    name="Neo4j 5 Cypher (over Bolt)",
    hints=(
        (
            r"no viable alternative at input '\[\d*:",
            "list slices are list[a..b] (0-based) here, not [a:b]",
        ),
    ),
    functions={
        "list_to_string": "reduce(s = '', x IN list | s + x) or a client-side join",
        "rels": "relationships()",
        "label": "labels() (a list)",
        "string": "toString()",
        "list_extract": "list[i] (0-based)",
        "len": "size()",
    },
)
DIALECTS = {d.backend: d for d in (LADYBUG, NEO4J)}

_UNKNOWN_FUNCTION = (
    re.compile(r"Unknown function '([\w.]+)'", re.I),
    re.compile(r"function ([\w.]+) does not exist", re.I),
)
_SYNTAX = re.compile(r"Parser exception|SyntaxError|Syntax error|Invalid input", re.I)
_NEO4J_MESSAGE = re.compile(r"\{message: (.*?)\}(?: \{|$)", re.S)
_EXPECTING = re.compile(r" expecting \{[^}]*\}")


def dialect_of(backend: str) -> Dialect:
    return DIALECTS.get(backend, NEO4J)


def clean(message: str) -> str:
    """The engine's words without the driver's ``{neo4j_code: ...} {gql_status: ...}``
    wrapping or the parser's list of every keyword it expected."""
    m = _NEO4J_MESSAGE.search(message)
    text = message[: message.index("{neo4j_code")] + m.group(1) if m else message
    return _EXPECTING.sub("", text).strip()


def _function_hint(d: Dialect, message: str) -> str | None:
    for pattern in _UNKNOWN_FUNCTION:
        m = pattern.search(message)
        if m:
            fn = m.group(1)
            other = d.functions.get(fn.split(".")[0].casefold())
            tail = f"; use {other}" if other else ""
            return f"{fn}() is not a function here{tail}"
    return None


def explain(backend: str, message: str) -> str | None:
    """One line for a query that failed for a dialect reason, naming the dialect
    the store speaks; None when the failure has nothing to do with the dialect."""
    d = dialect_of(backend)
    text = clean(message)
    why = _function_hint(d, text)
    if why is None:
        why = next((say for pat, say in d.hints if re.search(pat, text)), None)
    if why is None and not _SYNTAX.search(text):
        return None
    detail = f" ({why})" if why else ""
    return f"{text.rstrip('.')}. This store speaks {d.name}{detail}; the differences: {DOCS}"


def describe(backend: str, message: str) -> str:
    """A failed query's error as one line: cleaned, with the dialect where it matters."""
    return explain(backend, message) or clean(message)


_LITERALS = re.compile(
    r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`|//[^\n]*|/\*.*?\*/", re.S
)
_PARAMETER = re.compile(r"\$(?:([A-Za-z_][A-Za-z0-9_]*)|`([^`]+)`|(\d+))")


def parameters(query: str) -> list[str]:
    """The ``$name`` parameters a Cypher text uses (not inside strings or
    comments), sorted: a query run with one of them unset answers nothing on
    LadybugDB and fails on Neo4j, so callers check before running it."""
    names: set[str] = set()
    for part in _LITERALS.split(query):
        for m in _PARAMETER.finditer(part or ""):
            names.add(next(g for g in m.groups() if g is not None))
    return sorted(names)
