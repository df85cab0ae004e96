"""Named, documented, parameterized Cypher queries.

Each query is a file in ``queries/cypher/``: ``NAME.cypher`` (portable) or
``NAME.ladybug.cypher`` + ``NAME.neo4j.cypher`` where the dialects differ.
Header comments document it::

    // description: what it answers
    // param: concept (required) - what it is
    // param: limit = 50 - what it is
    // cost: what one run reads (``whole graph: ...`` for aggregations over every edge)

A query may be several statements separated by a line ``// else`` (each ending
in ``;``): :func:`run` runs them in turn and the first that returns a row
answers (``path``: cheap fixed-length patterns first, the breadth-first search
last). Run whole as printed, the last statement answers alone.

Values only ever travel as parameters; ``evokegraph query show NAME`` prints
the Cypher so that users can learn and adapt it. A parameter whose help says
"image id" is resolved like ``evokegraph show`` resolves an image (full id,
unique prefix, file or stored path) before the query runs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from evokegraph.errors import UserInputError
from evokegraph.graph.store import GraphStore

REQUIRED = object()
ELSE = "// else"  # a line between the statements of a staged query
_PARAM = re.compile(r"^//\s*param:\s*(\w+)\s*(?:\((required)\)|=\s*(\S+))?\s*(?:-\s*(.*))?$")


@dataclass(frozen=True)
class Param:
    name: str
    default: Any
    help: str

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def is_image(self) -> bool:
        """Documented as an image id: it accepts what `evokegraph show` accepts."""
        return "image id" in self.help.lower()


WHOLE_GRAPH = "whole graph"


@dataclass
class NamedQuery:
    name: str
    description: str
    params: list[Param]
    texts: dict[str, str] = field(default_factory=dict)  # dialect ("" = portable) -> Cypher
    cost: str = ""  # what one run reads; starts with WHOLE_GRAPH for whole-graph aggregations

    @property
    def whole_graph(self) -> bool:
        return self.cost.startswith(WHOLE_GRAPH)

    def text(self, backend: str) -> str:
        return self.texts.get(backend) or self.texts[""]

    def stages(self, backend: str) -> list[str]:
        """The statements :func:`run` tries in turn (one for most queries)."""
        parts = re.split(rf"^\s*{ELSE}\s*$", self.text(backend), flags=re.MULTILINE)
        return [p.strip().rstrip(";").strip() for p in parts]

    def bind(self, given: dict[str, Any]) -> dict[str, Any]:
        known = {p.name for p in self.params}
        unknown = sorted(set(given) - known)
        if unknown:
            raise UserInputError(
                f"query {self.name!r} has no parameter {', '.join(unknown)}; "
                f"its parameters: {', '.join(sorted(known)) or '(none)'}"
            )
        missing = [p.name for p in self.params if p.required and p.name not in given]
        if missing:
            raise UserInputError(
                f"query {self.name!r} needs {', '.join(missing)}; pass --param "
                + " --param ".join(f"{m}=..." for m in missing)
            )
        bound = {p.name: given.get(p.name, p.default) for p in self.params}
        for p in self.params:
            _check_type(self.name, p, bound[p.name])
        return bound


def _check_type(query: str, p: Param, value: Any) -> None:
    """A value of the default's kind: a whole number >= 0 where the default is
    one (limits, counts, distances), a number where it is a float."""
    if p.required:
        return
    if isinstance(p.default, bool) or not isinstance(p.default, int | float):
        return
    whole = isinstance(p.default, int)
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and whole:
        ok = isinstance(value, int) and value >= 0
    if not ok:
        kind = "a whole number >= 0" if whole else "a number"
        raise UserInputError(
            f"query {query!r}: {p.name}={value!r} must be {kind} (default {p.default}); "
            f"pass --param {p.name}={p.default}"
        )


def parse(name: str, text: str) -> tuple[str, list[Param], str]:
    description, params, body = "", [], []
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("// description:"):
            description = s.split(":", 1)[1].strip()
        elif s == ELSE:
            body.append(ELSE)
        elif s.startswith("// cost:"):
            continue  # read by cost_of
        elif s.startswith("// param:"):
            m = _PARAM.match(s)
            if not m:
                raise UserInputError(
                    f"{name}: bad param line {s!r}; write // param: NAME (required) - help, or // param: NAME=JSON - help"
                )
            pname, req, default, help_ = m.groups()
            value: Any = REQUIRED if req or default is None else json.loads(default)
            params.append(Param(pname, value, help_ or ""))
        elif not s.startswith("//"):
            body.append(line)
    return description, params, "\n".join(body).strip()


def cost_of(text: str) -> str:
    """The ``// cost:`` header of a query file ("" when there is none)."""
    for line in text.splitlines():
        if line.strip().startswith("// cost:"):
            return line.strip().split(":", 1)[1].strip()
    return ""


@lru_cache(maxsize=1)
def catalogue() -> dict[str, NamedQuery]:
    out: dict[str, NamedQuery] = {}
    folder = resources.files("evokegraph.queries") / "cypher"
    for f in sorted(folder.iterdir(), key=lambda f: f.name):
        if not f.name.endswith(".cypher"):
            continue
        stem = f.name[: -len(".cypher")]
        name, _, dialect = stem.partition(".")
        text = f.read_text(encoding="utf-8")
        description, params, body = parse(name, text)
        q = out.setdefault(name, NamedQuery(name, description, params))
        q.texts[dialect] = body
        q.cost = q.cost or cost_of(text)
    return out


def get(name: str) -> NamedQuery:
    try:
        return catalogue()[name]
    except KeyError:
        raise UserInputError(
            f"unknown query {name!r}; known: {', '.join(sorted(catalogue()))}"
        ) from None


def run(store: GraphStore, name: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Run a named query; image parameters take a full id, a unique id prefix,
    an image file or a stored path (see :func:`evokegraph.views.resolve_image`)."""
    from evokegraph.views import resolve_image

    q = get(name)
    bound = q.bind(params or {})
    for p in q.params:
        if p.is_image and bound[p.name] is not p.default:
            bound[p.name] = resolve_image(store, str(bound[p.name]))
    rows: list[dict[str, Any]] = []
    for text in q.stages(store.backend):
        used = {k: v for k, v in bound.items() if re.search(rf"\${k}\b", text)}
        rows = store.query(text, used)
        if rows:
            break
    return rows
