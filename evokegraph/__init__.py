"""evokegraph: a knowledge base of what images evoke.

The Python API (see README "Python API") is :mod:`evokegraph.api`::

    from evokegraph.api import open_kb, ingest, caption, export

(``evokegraph.ingest`` is the ingestion stage package, so the ``ingest``
function is imported from :mod:`evokegraph.api`; ``open_kb``, ``caption``,
``export``, the record types, summaries and errors are also re-exported here.)

The distribution maps the user's top-level folders under one import namespace:
``ingest/`` -> ``evokegraph.ingest``, ``graph/`` -> ``evokegraph.graph``,
``captioning/`` -> ``evokegraph.captioning``, ``training/`` -> ``evokegraph.training``,
``queries/`` -> ``evokegraph.queries``; ``evokegraph/`` holds the package root
(records, errors, registry, the API, CLI).

The names below are imported on first use, so ``import evokegraph`` (and the
CLI's start) stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from evokegraph.errors import (
    EvokeGraphError,
    ImageError,
    ModelError,
    SourceError,
    StoreError,
    UserInputError,
)
from evokegraph.version import __version__

# public name -> module that defines it
_LAZY = {
    "open_kb": "evokegraph.api",
    "caption": "evokegraph.api",
    "export": "evokegraph.api",
    "write_sample": "evokegraph.api",
    "GraphStore": "evokegraph.graph.store",
    "StoreConfig": "evokegraph.graph.store",
    "IngestConfig": "evokegraph.ingest.runner",
    "IngestSummary": "evokegraph.ingest.batchwork",
    "CaptionSummary": "evokegraph.captioning.runner",
    "ExportSummary": "evokegraph.training.export",
    "ImageRecord": "evokegraph.records",
    "Element": "evokegraph.records",
    "Evocation": "evokegraph.records",
    "Caption": "evokegraph.records",
    "PathStep": "evokegraph.records",
    "ContextPath": "evokegraph.records",
    "ImageView": "evokegraph.records",
    "Failure": "evokegraph.records",
    "RunRecord": "evokegraph.records",
    "Pair": "evokegraph.records",
}
_RENAMED = {"IngestSummary": "Summary"}

__all__ = [
    "Caption",
    "CaptionSummary",
    "ContextPath",
    "Element",
    "Evocation",
    "EvokeGraphError",
    "ExportSummary",
    "Failure",
    "GraphStore",
    "ImageError",
    "ImageRecord",
    "ImageView",
    "IngestConfig",
    "IngestSummary",
    "ModelError",
    "Pair",
    "PathStep",
    "RunRecord",
    "SourceError",
    "StoreConfig",
    "StoreError",
    "UserInputError",
    "__version__",
    "caption",
    "export",
    "open_kb",
    "write_sample",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from evokegraph.api import caption, export, open_kb, write_sample
    from evokegraph.captioning.runner import CaptionSummary
    from evokegraph.graph.store import GraphStore, StoreConfig
    from evokegraph.ingest.batchwork import Summary as IngestSummary
    from evokegraph.ingest.runner import IngestConfig
    from evokegraph.records import (
        Caption,
        ContextPath,
        Element,
        Evocation,
        Failure,
        ImageRecord,
        ImageView,
        Pair,
        PathStep,
        RunRecord,
    )
    from evokegraph.training.export import ExportSummary


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'evokegraph' has no attribute {name!r}")
    value = getattr(import_module(module), _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
