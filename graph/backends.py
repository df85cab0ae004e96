"""The registry of graph backends: each registers its typed options and an opener.

An opener is called as ``opener(options, read_only=..., create=...)`` and
imports its backend module only then, so choosing a backend (and building
the CLI's options from :data:`BACKENDS`) imports no database driver, and the
backend modules (which import :mod:`evokegraph.graph.protocol`) never import
this module back. Adding a backend = one option class + one registration;
:class:`~evokegraph.graph.store.StoreConfig` and the global CLI options follow.
"""

from __future__ import annotations

from evokegraph.graph.backend_options import (
    DEFAULT_BACKEND,
    DEFAULT_DB,
    LadybugOptions,
    Neo4jOptions,
)
from evokegraph.graph.protocol import GraphStore
from evokegraph.options import BackendOptions, option_fields
from evokegraph.registry import Registry

__all__ = ["BACKENDS", "DEFAULT_BACKEND", "DEFAULT_DB", "LadybugOptions", "Neo4jOptions"]

BACKENDS: Registry[GraphStore] = Registry("backend")


# The registry's help is the short label of `--backend`'s help ("ladybug (embedded)").
@BACKENDS.register("ladybug", "embedded", options=LadybugOptions)
def _open_ladybug(options: LadybugOptions, *, read_only: bool, create: bool) -> GraphStore:
    from evokegraph.graph.ladybug_store import LadybugStore

    return LadybugStore.from_options(options, read_only=read_only, create=create)


@BACKENDS.register("neo4j", "", options=Neo4jOptions)
def _open_neo4j(options: Neo4jOptions, *, read_only: bool, create: bool) -> GraphStore:
    from evokegraph.graph.neo4j_store import Neo4jStore

    return Neo4jStore.from_options(options, read_only=read_only, create=create)


def backend_names() -> list[str]:
    """Registered backends, the default first."""
    return sorted(BACKENDS.names(), key=lambda n: (n != DEFAULT_BACKEND, n))


def backends_help() -> str:
    """'ladybug (embedded) or neo4j': the backends and their labels, for help texts."""
    labels = BACKENDS.describe()
    return " or ".join(f"{n} ({labels[n]})" if labels[n] else n for n in backend_names())


def options_class(backend: str) -> type[BackendOptions]:
    cls = BACKENDS.options(backend)
    if not (isinstance(cls, type) and issubclass(cls, BackendOptions)):  # pragma: no cover
        raise TypeError(f"backend {backend!r} registered no declared options class")
    return cls


def check_unique_fields() -> None:
    """One field name is one option across backends (one global CLI flag)."""
    seen: dict[str, str] = {}
    for b in backend_names():
        for f in option_fields(options_class(b)):
            if f.name in seen and seen[f.name] != f.flag.flag:
                raise TypeError(f"option {f.name!r} of backend {b!r} clashes with another backend")
            seen[f.name] = f.flag.flag
