"""CLI: ``load``, the bulk import of sharded outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evokegraph.cli_common import console, open_kb, print_json, print_table


def load_cmd(
    ctx: typer.Context,
    shards: Annotated[
        Path, typer.Argument(help="A shards folder written by `ingest --engine ray`.")
    ],
    neo4j_import: Annotated[
        Path | None,
        typer.Option(
            "--neo4j-import",
            help="Write the CSV files of `neo4j-admin database import full` here and print "
            "the command, instead of loading.",
        ),
    ] = None,
    neo4j_database: Annotated[
        str, typer.Option("--import-database", help="Database name for the neo4j-admin command.")
    ] = "neo4j",
    incremental: Annotated[
        bool,
        typer.Option(
            "--incremental", help="Use the idempotent write path even into an empty store."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Load shards: COPY per table into an empty store, else the idempotent write path."""
    from evokegraph.graph import bulk
    from evokegraph.graph.shards import open_shards

    shard_set = open_shards(shards)
    if neo4j_import is not None:
        command = bulk.export_neo4j(shard_set, neo4j_import, neo4j_database)
        console.print(
            f"wrote the neo4j-admin import files to {neo4j_import}; with the database "
            "stopped, run:",
            highlight=False,
        )
        print(command)
        console.print(
            "then start it and run `evokegraph --backend neo4j init` (constraints, indexes).",
            highlight=False,
        )
        return
    with open_kb(ctx, create=True) as kb:
        kb.ensure_schema()
        report = bulk.load(kb, shard_set, force_incremental=incremental)
    data = {
        "mode": report.mode,
        "shards": report.shards,
        "rows": report.rows,
        "seconds": {k: round(v, 3) for k, v in report.seconds.items()},
    }
    if as_json:
        print_json(data)
        return
    rows = [{"what": k, "value": v} for k, v in report.rows.items()]
    rows += [{"what": f"{k} (s)", "value": round(v, 3)} for k, v in report.seconds.items()]
    print_table(rows, title=f"load {shards} ({report.mode}, {report.shards} shards)")


def register(app: typer.Typer) -> None:
    app.command("load")(load_cmd)
