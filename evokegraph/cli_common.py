"""Shared pieces of the CLI: global options, opening the store, output.

Each stage's folder owns its commands in its own ``cli.py`` with a
``register(app)`` function; :mod:`evokegraph.cli` calls them all. Commands stay
thin: parse options, call the library, print.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from evokegraph.graph.store import GraphStore, StoreConfig, open_store

console = Console()
err_console = Console(stderr=True)

# Command groups more than one stage adds to (each stage's register() adds its
# subcommands; evokegraph.cli mounts the groups once).
eval_app = typer.Typer(
    help="Evaluations: retrieval, association quality, the paper's protocols.",
    no_args_is_help=True,
)


@dataclass
class State:
    store: StoreConfig = field(default_factory=StoreConfig.from_env)
    verbose: bool = False


def state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    if not isinstance(obj, State):
        obj = State()
        ctx.find_root().obj = obj
    return obj


def open_kb(ctx: typer.Context, *, read_only: bool = False, create: bool = False) -> GraphStore:
    """Open the store named by the global options (read-only where possible)."""
    cfg = state(ctx).store
    return open_store(StoreConfig(**{**cfg.__dict__, "read_only": read_only, "create": create}))


def progress_bar() -> Any:
    """The rich progress display every long command uses (stderr, with rates)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(show_speed=True),
        TimeElapsedColumn(),
        console=err_console,
    )


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def print_table(
    rows: Sequence[dict[str, Any]], title: str | None = None, columns: Iterable[str] | None = None
) -> None:
    cols = list(columns) if columns is not None else (list(rows[0]) if rows else [])
    table = Table(title=title, show_lines=False)
    for c in cols:
        table.add_column(str(c))
    for r in rows:
        table.add_row(*[_cell(r.get(c)) for c in cols])
    console.print(table)


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    if isinstance(v, dict | list):
        return json.dumps(v, default=str, ensure_ascii=False)
    return "" if v is None else str(v)
