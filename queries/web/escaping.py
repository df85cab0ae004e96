"""Autoescaping of the explorer's templates at a lower cost (H24, issue 24:
the explorer under load).

With autoescape on, Jinja compiles every ``{{ value }}`` of a template to
``escape(value)``: MarkupSafe's ``escape``, a Python function that escapes in
C and then builds its ``Markup`` through ``Markup.__new__``, a second Python
call. A concept page makes ~1,000 of them (its image cards alone ~900): a
third of its rendering time. :class:`EscapingTemplate` gives the compiled
templates :func:`escape`, which escapes with the same C function
(``markupsafe._escape_inner``) and makes the ``Markup`` with ``str.__new__``.
Same text, same type: byte-identical pages (``tests/test_serve.py``). Where
MarkupSafe has no ``_escape_inner`` (another release), templates keep
MarkupSafe's own ``escape``.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any

import jinja2
import markupsafe
from markupsafe import Markup

_inner: Callable[[str], str] | None = getattr(markupsafe, "_escape_inner", None)
_new = str.__new__


def escape(s: Any, /) -> Markup:
    """``markupsafe.escape(s)``: the same text and type, one Python call fewer."""
    if _inner is None:  # pragma: no cover - another MarkupSafe
        return markupsafe.escape(s)
    if type(s) is str:
        return _new(Markup, _inner(s))
    if type(s) is Markup:  # a macro's output, already safe
        return s
    if hasattr(s, "__html__"):
        return _new(Markup, s.__html__())
    return _new(Markup, _inner(str(s)))


class EscapingTemplate(jinja2.Template):
    """A template whose compiled code escapes with :func:`escape` (the name the
    generated module imports from ``jinja2.runtime`` is rebound in its namespace)."""

    @classmethod
    def _from_namespace(
        cls,
        environment: jinja2.Environment,
        namespace: MutableMapping[str, Any],
        globals: MutableMapping[str, Any],
    ) -> jinja2.Template:
        if _inner is not None and namespace.get("escape") is markupsafe.escape:
            namespace["escape"] = escape
        return super()._from_namespace(environment, namespace, globals)
