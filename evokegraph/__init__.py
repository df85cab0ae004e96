"""evokegraph: a knowledge base of what images evoke.

The distribution maps the user's top-level folders under one import namespace:
``ingest/`` -> ``evokegraph.ingest``, ``graph/`` -> ``evokegraph.graph``,
``captioning/`` -> ``evokegraph.captioning``, ``training/`` -> ``evokegraph.training``,
``queries/`` -> ``evokegraph.queries``; ``evokegraph/`` holds the package root
(records, errors, registry, CLI).
"""

from evokegraph.errors import EvokeGraphError

__version__ = "0.1.0"

__all__ = ["EvokeGraphError", "__version__"]
