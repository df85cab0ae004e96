"""The fixed graph schema: labels, relationship types and their properties.

Labels and types are only ever taken from here, never from user or model
text, so Cypher text is built from constants and everything else travels as
parameters. The two backends share this description; each renders its DDL.
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA_VERSION = 1
AW_DIRTY = "associations_dirty"  # Meta key: ASSOCIATED_WITH needs a full recompute

# What `stats` counts: (label or type, the Stats field it fills).
STAT_NODES = (
    ("Image", "images"),
    ("Element", "elements"),
    ("Concept", "concepts"),
    ("Caption", "captions"),
    ("Failure", "failures"),
    ("Run", "runs"),
)
STAT_RELS = (("EVOKES", "evokes"), ("ASSOCIATED_WITH", "associated_with"))


@dataclass(frozen=True)
class NodeTable:
    label: str
    key: str
    columns: tuple[tuple[str, str], ...]  # (name, ladybug type), key first


@dataclass(frozen=True)
class RelTable:
    type: str
    source: str
    target: str
    columns: tuple[tuple[str, str], ...] = ()


NODES: tuple[NodeTable, ...] = (
    NodeTable("Meta", "key", (("key", "STRING"), ("value", "STRING"))),
    NodeTable(
        "Image",
        "id",
        (
            ("id", "STRING"),
            ("uris", "STRING[]"),
            ("width", "INT64"),
            ("height", "INT64"),
            ("format", "STRING"),
            ("split", "STRING"),
            ("captions", "STRING[]"),
            ("description", "STRING"),
            ("stage_keys", "STRING"),  # JSON: stage -> settings key
        ),
    ),
    NodeTable(
        "Element",
        "id",
        (
            ("id", "STRING"),
            ("image_id", "STRING"),
            ("name", "STRING"),
            ("concept", "STRING"),
            ("pos", "STRING"),
            ("saliency", "DOUBLE"),
            ("rank", "INT64"),
            ("box", "DOUBLE[]"),
            ("grounding", "DOUBLE"),
        ),
    ),
    NodeTable(
        "Concept",
        "name",
        (("name", "STRING"), ("pos", "STRING"), ("concreteness", "DOUBLE")),
    ),
    NodeTable(
        "Caption",
        "id",
        (
            ("id", "STRING"),
            ("image_id", "STRING"),
            ("text", "STRING"),
            ("depth", "INT64"),
            ("realizer", "STRING"),
            ("model", "STRING"),
            ("path", "STRING"),  # JSON list of PathStep
            ("weight", "DOUBLE"),
            ("run", "STRING"),
        ),
    ),
    NodeTable(
        "Run",
        "id",
        (
            ("id", "STRING"),
            ("command", "STRING"),
            ("config", "STRING"),
            ("versions", "STRING"),
            ("started", "STRING"),
            ("finished", "STRING"),
            ("counts", "STRING"),
            ("timings", "STRING"),
            ("status", "STRING"),
        ),
    ),
    NodeTable(
        "Failure",
        "id",
        (
            ("id", "STRING"),
            ("image_id", "STRING"),
            ("uri", "STRING"),
            ("stage", "STRING"),
            ("reason", "STRING"),
            ("raw", "STRING"),
            ("run", "STRING"),
            ("at", "STRING"),
        ),
    ),
)

RELS: tuple[RelTable, ...] = (
    RelTable("HAS_ELEMENT", "Image", "Element"),
    RelTable("IS", "Element", "Concept"),
    RelTable(
        "EVOKES",
        "Element",
        "Concept",
        (
            ("distance", "INT64"),
            ("weight", "DOUBLE"),
            ("rank", "INT64"),
            ("surface", "STRING"),
            ("grounding", "DOUBLE"),
            ("run", "STRING"),
        ),
    ),
    RelTable(
        "ASSOCIATED_WITH",
        "Concept",
        "Concept",
        (("distance", "INT64"), ("weight", "DOUBLE"), ("support", "INT64")),
    ),
    RelTable("DESCRIBES", "Caption", "Image"),
    RelTable("USES", "Caption", "Concept"),
)

NODE_BY_LABEL = {n.label: n for n in NODES}
REL_BY_TYPE = {r.type: r for r in RELS}


def ladybug_ddl() -> list[str]:
    """``CREATE ... IF NOT EXISTS`` statements for the embedded store."""
    out = []
    for n in NODES:
        cols = ", ".join(f"{c} {t}" for c, t in n.columns)
        out.append(f"CREATE NODE TABLE IF NOT EXISTS {n.label}({cols}, PRIMARY KEY({n.key}))")
    for r in RELS:
        cols = "".join(f", {c} {t}" for c, t in r.columns)
        out.append(f"CREATE REL TABLE IF NOT EXISTS {r.type}(FROM {r.source} TO {r.target}{cols})")
    return out


def neo4j_ddl() -> list[str]:
    """Uniqueness constraints and indexes for Neo4j 5 (idempotent)."""
    out = [
        f"CREATE CONSTRAINT {n.label.lower()}_{n.key} IF NOT EXISTS "
        f"FOR (n:{n.label}) REQUIRE n.{n.key} IS UNIQUE"
        for n in NODES
    ]
    out += [
        "CREATE INDEX element_image_id IF NOT EXISTS FOR (n:Element) ON (n.image_id)",
        "CREATE INDEX caption_image_id IF NOT EXISTS FOR (n:Caption) ON (n.image_id)",
        "CREATE INDEX caption_depth IF NOT EXISTS FOR (n:Caption) ON (n.depth)",
        "CREATE INDEX failure_run IF NOT EXISTS FOR (n:Failure) ON (n.run)",
        "CREATE INDEX evokes_distance IF NOT EXISTS FOR ()-[r:EVOKES]-() ON (r.distance)",
        "CREATE INDEX assoc_distance IF NOT EXISTS FOR ()-[r:ASSOCIATED_WITH]-() ON (r.distance)",
    ]
    return out
