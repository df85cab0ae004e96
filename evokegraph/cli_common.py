"""Shared pieces of the CLI: global options, opening the store, output.

Each stage's folder owns its commands in its own ``cli.py`` with a
``register(app)`` function; :mod:`evokegraph.cli` calls them all. Commands stay
thin: parse options, call the library, print.
"""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from evokegraph.graph.store import GraphStore, StoreConfig, open_store
from evokegraph.options import OptionField

console = Console()
err_console = Console(stderr=True)

# Command groups more than one stage adds to (each stage's register() adds its
# subcommands; evokegraph.cli mounts the groups once).
eval_app = typer.Typer(
    help="Evaluations: retrieval, association quality, the paper's protocols.",
    no_args_is_help=True,
)


# Options more than one command takes: defined once (flag, help, checks).
PresetOpt = Annotated[
    str,
    typer.Option("--preset", help="project (default) or reference (the authors' settings)."),
]
TrustRemoteCodeOpt = Annotated[
    bool,
    typer.Option("--trust-remote-code", help="Local engines: run the model repo's code (Molmo)."),
]
DtypeOpt = Annotated[
    str | None, typer.Option("--dtype", help="Local engines: weights dtype, e.g. bfloat16.")
]
MaxModelLenOpt = Annotated[
    int | None, typer.Option("--max-model-len", min=1, help="Local engines: context length.")
]

BackendOptionOpt = Annotated[
    list[str],
    typer.Option(
        "-o",
        "--option",
        help="A backend option, KEY=VALUE (repeatable): ingest gives each to the extractor "
        "or miner that declares it, caption to the realizer; `evokegraph backends` lists them.",
    ),
]
QueryTimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        help="Stop the query after this many seconds (default: $EVOKEGRAPH_QUERY_TIMEOUT or 30).",
    ),
]
_URL_HELP = "OpenAI-compatible URL for the {} (else OPENAI_BASE_URL)."
_KEY_HELP = "API key for the {} (else OPENAI_API_KEY)."
VlmBaseUrlOpt = Annotated[str | None, typer.Option("--vlm-base-url", help=_URL_HELP.format("VLM"))]
VlmApiKeyOpt = Annotated[str | None, typer.Option("--vlm-api-key", help=_KEY_HELP.format("VLM"))]
LlmBaseUrlOpt = Annotated[str | None, typer.Option("--llm-base-url", help=_URL_HELP.format("LLM"))]
LlmApiKeyOpt = Annotated[str | None, typer.Option("--llm-api-key", help=_KEY_HELP.format("LLM"))]


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
    return open_store(state(ctx).store.replace(read_only=read_only, create=create))


def typer_parameters(fields: Iterable[OptionField]) -> list[inspect.Parameter]:
    """Keyword parameters typer reads as options, one per option field (its flag,
    env var, help, default): how a registry's option classes become CLI options."""
    params = []
    for f in fields:
        info = typer.Option(f.flag.flag, envvar=f.flag.envvar, help=f.flag.help, min=f.flag.min)
        params.append(
            inspect.Parameter(
                f.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=f.cli_default,
                annotation=Annotated[f.cli_type, info],
            )
        )
    return params


def progress_bar(*, enabled: bool = True) -> Any:
    """The rich progress display every long command uses (stderr, with rates);
    ``enabled=False`` (``--no-progress``) draws nothing."""
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
        disable=not enabled,
    )


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def print_table(
    rows: Sequence[dict[str, Any]], title: str | None = None, columns: Iterable[str] | None = None
) -> None:
    if not rows:  # an empty result says so, in one line
        console.print(f"{title}: no results" if title else "no results", highlight=False)
        return
    cols = list(columns) if columns is not None else list(rows[0])
    cells = [[_cell(r.get(c)) for c in cols] for r in rows]
    # Cells wrap at spaces and never lose a character: each column is at least
    # as wide as its longest word, and the table grows past the terminal if
    # it must (a long uri stays whole).
    widths = [
        max(len(w) for text in [str(c), *(row[i] for row in cells)] for w in [*text.split(), ""])
        for i, c in enumerate(cols)
    ]
    # ... and the title (a run id) is never cut: the table is at least as wide
    need = max(sum(widths) + 3 * len(cols) + 1, len(title or ""))
    table = Table(title=title, show_lines=False, min_width=need)
    for c, w in zip(cols, widths, strict=True):
        table.add_column(str(c), min_width=w, overflow="fold")
    for row in cells:
        table.add_row(*row)
    console.print(table, width=max(console.width, need), crop=False)


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    if isinstance(v, dict | list):
        return json.dumps(v, default=str, ensure_ascii=False)
    return "" if v is None else str(v)
