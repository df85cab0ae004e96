"""Each graph backend's declared options (pydantic, as the stage backends'; each
field with its CLI flag, env var and default).

Apart from :mod:`evokegraph.graph.backends` (the registry) so that the backend
modules can name their option class without importing the registry, which
imports them."""

from __future__ import annotations

from pathlib import Path

from evokegraph.options import BackendOptions, PathText, option

DEFAULT_DB = "./evokegraph.kb"
DEFAULT_BACKEND = "ladybug"


class LadybugOptions(BackendOptions):
    """The embedded LadybugDB store: one file on disk."""

    path: PathText = option(
        DEFAULT_DB,
        "--db",
        "Embedded knowledge base file.",
        envvar="EVOKEGRAPH_DB",
        cli_type=Path,
    )

    def location(self) -> str:
        return self.path


class Neo4jOptions(BackendOptions):
    """A Neo4j 5 (or Bolt-compatible) server."""

    uri: str = option("", "--neo4j-uri", "bolt:// or neo4j:// URI.", envvar="EVOKEGRAPH_NEO4J_URI")
    user: str = option("neo4j", "--neo4j-user", "Neo4j user.", envvar="EVOKEGRAPH_NEO4J_USER")
    password: str = option(
        "", "--neo4j-password", "Neo4j password.", envvar="EVOKEGRAPH_NEO4J_PASSWORD"
    )
    database: str | None = option(
        None, "--neo4j-database", "Neo4j database.", envvar="EVOKEGRAPH_NEO4J_DATABASE"
    )
    batch_size: int = option(5000, "--write-batch", "Rows per UNWIND batch (Neo4j).", min=1)

    def location(self) -> str:
        return self.uri
