"""JSON for the explorer's answers: orjson where it is installed, else the
standard library (H24, issue 24: the explorer under load).

The JSON endpoints and the pages' embedded drawings (``|tojson``) encoded
their dicts with ``json.dumps``: ~0.3 ms of the GIL for a concept page's 30
KB, ~5% of the server's GIL time under load; orjson (a C extension, in the
``serve`` extra) takes a tenth of that. The values are the same JSON either
way: compact, UTF-8 (no ``\\u`` escapes for non-ASCII), non-string keys as
strings. A value orjson cannot encode (an int wider than 64 bits, a str with a
lone surrogate) goes through ``json.dumps`` as before, so what failed there
still fails the same way; a float NaN is ``null`` with orjson (``json.dumps``
refused it: an error page).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse

try:
    import orjson
except ModuleNotFoundError:  # pragma: no cover - the serve extra installs it
    orjson = None  # type: ignore[assignment]

_OPTIONS = orjson.OPT_NON_STR_KEYS if orjson is not None else 0
_SORTED = _OPTIONS | orjson.OPT_SORT_KEYS if orjson is not None else 0


def dumps_bytes(content: Any) -> bytes:
    """``content`` as compact UTF-8 JSON (what ``JSONResponse`` writes)."""
    if orjson is not None:
        try:
            return orjson.dumps(content, option=_OPTIONS)
        except TypeError:  # not encodable by orjson: the standard library decides
            pass
    return json.dumps(
        content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


def dumps_text(obj: Any, **kwargs: Any) -> str:
    """Jinja's ``json.dumps_function`` (its ``tojson`` filter, which then escapes
    ``<``, ``>``, ``&`` and ``'`` for HTML): keys sorted as Jinja asks, compact."""
    if orjson is not None and set(kwargs) <= {"sort_keys"}:
        try:
            return orjson.dumps(
                obj, option=_SORTED if kwargs.get("sort_keys") else _OPTIONS
            ).decode()
        except TypeError:
            pass
    return json.dumps(obj, **kwargs)


class FastJSONResponse(JSONResponse):
    """``JSONResponse`` encoded by :func:`dumps_bytes`."""

    def render(self, content: Any) -> bytes:
        return dumps_bytes(content)
