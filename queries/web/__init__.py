"""``evokegraph serve``: a local, read-only web explorer of the knowledge base.

FastAPI + Jinja2 (autoescape on), vis-network from pyvis's package data, no
CDN. :func:`create_app` builds the application; the views' data come from
:mod:`evokegraph.queries.web.data` and are served as HTML and as JSON.
"""

from __future__ import annotations

__all__ = ["create_app"]


def __getattr__(name: str) -> object:
    if name == "create_app":  # fastapi is an extra: import it only when asked
        from evokegraph.queries.web.app import create_app

        return create_app
    raise AttributeError(name)
