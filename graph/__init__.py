"""The graph: schema, the :class:`GraphStore` protocol and its backends.

``open_store`` is the one entry point; it picks the embedded LadybugDB store
by default and Neo4j when asked.
"""

from evokegraph.graph.store import GraphStore, StoreConfig, open_store

__all__ = ["GraphStore", "StoreConfig", "open_store"]
