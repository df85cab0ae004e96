"""Arrow schemas of the graph's tables (from :mod:`evokegraph.graph.schema`):
what LadybugDB's ``COPY FROM`` and the Parquet shards both read and write."""

from __future__ import annotations

import pyarrow as pa

from evokegraph.graph.schema import NODE_BY_LABEL, REL_BY_TYPE

ARROW_TYPES = {
    "STRING": pa.string(),
    "INT64": pa.int64(),
    "DOUBLE": pa.float64(),
    "STRING[]": pa.list_(pa.string()),
    "DOUBLE[]": pa.list_(pa.float64()),
}


def node_schema(label: str) -> pa.Schema:
    """A node table's columns, in order."""
    return pa.schema([(c, ARROW_TYPES[t]) for c, t in NODE_BY_LABEL[label].columns])


def rel_schema(rel: str) -> pa.Schema:
    """A relationship table: ``from``, ``to``, then its properties, in order."""
    cols = [("from", pa.string()), ("to", pa.string())]
    cols += [(c, ARROW_TYPES[t]) for c, t in REL_BY_TYPE[rel].columns]
    return pa.schema(cols)
