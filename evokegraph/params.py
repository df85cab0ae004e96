"""Parsing ``key=value`` parameters given on the command line."""

from __future__ import annotations

import json
from typing import Any

from evokegraph.errors import UserInputError


def parse_params(items: list[str]) -> dict[str, Any]:
    """``["k=3", "name=tree", "xs=[1,2]"]`` -> ``{"k": 3, "name": "tree", "xs": [1, 2]}``.

    Values that parse as JSON are taken as JSON (numbers, lists, booleans);
    everything else is a string. Values only ever become query parameters.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise UserInputError(f"bad parameter {item!r}; write it as key=value")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out
