"""The ``evokegraph`` command: a thin typer layer over the library.

Library errors (:class:`~evokegraph.errors.EvokeGraphError`) become one line
``Error: ...`` and a non-zero exit code; ``--verbose`` shows the traceback.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from typing import Annotated, Any

import typer

from evokegraph.cli_common import (
    QueryTimeoutOpt,
    State,
    console,
    err_console,
    eval_app,
    open_kb,
    print_json,
    print_table,
    state,
    typer_parameters,
)
from evokegraph.errors import EvokeGraphError, ReadOnlyQueryError, UserInputError, disk_full
from evokegraph.graph.backends import (
    BACKENDS,
    DEFAULT_BACKEND,
    backend_names,
    backends_help,
    options_class,
)
from evokegraph.graph.store import StoreConfig, store_option_fields
from evokegraph.options import option_fields

app = typer.Typer(
    name="evokegraph",
    help="A knowledge base of what images evoke.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Each stage registers its own commands (module path, attribute).
COMMAND_MODULES = (
    "evokegraph.ingest.cli",
    "evokegraph.captioning.cli",
    "evokegraph.training.cli",
    "evokegraph.queries.cli",
    "evokegraph.queries.web.cli",
    "evokegraph.graph.cli",
    "evokegraph.graph.load_cli",
)


def main_options(ctx: typer.Context, **options: Any) -> None:
    """A knowledge base of what images evoke."""
    backend = options.pop("backend")
    verbose = options.pop("verbose")
    if backend not in BACKENDS:
        raise typer.BadParameter(f"unknown backend {backend!r}; use {' or '.join(backend_names())}")
    fields = store_option_fields()
    store = {name: fields[name].convert(value) for name, value in options.items()}
    ctx.obj = State(store=StoreConfig(backend, **store), verbose=verbose)


def _global_parameters() -> list[inspect.Parameter]:
    """The global options, from the backend registry: the default backend's
    options, ``--backend``, the other backends' options, ``--verbose``."""
    fields = store_option_fields()
    default = {f.name for f in option_fields(options_class(DEFAULT_BACKEND))}
    backend = inspect.Parameter(
        "backend",
        inspect.Parameter.KEYWORD_ONLY,
        default=DEFAULT_BACKEND,
        annotation=Annotated[
            str,
            typer.Option("--backend", envvar="EVOKEGRAPH_BACKEND", help=f"{backends_help()}."),
        ],
    )
    verbose = inspect.Parameter(
        "verbose",
        inspect.Parameter.KEYWORD_ONLY,
        default=False,
        annotation=Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks.")],
    )
    ctx = inspect.Parameter(
        "ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context
    )
    first = [f for n, f in fields.items() if n in default]
    rest = [f for n, f in fields.items() if n not in default]
    return [ctx, *typer_parameters(first), backend, *typer_parameters(rest), verbose]


main_options.__signature__ = inspect.Signature(_global_parameters())  # type: ignore[attr-defined]
app.callback()(main_options)


@app.command()
def init(ctx: typer.Context) -> None:
    """Create an empty knowledge base (or stamp the schema on a Neo4j database)."""
    with open_kb(ctx, create=True) as kb:
        kb.ensure_schema()
        where = state(ctx).store.location()
    console.print(f"knowledge base ready: {where} ({kb.backend})")


@app.command()
def stats(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Counts of images, elements, concepts, edges, captions and failures;
    coverage: the share of elements with words at each distance; and the mean
    association weight per distance (for the default miner, the share of its
    words there that blind raters would accept)."""
    from evokegraph.levels import COVERAGE_MIN_WORDS, coverage_shares, mean_weights

    with open_kb(ctx, read_only=True) as kb:
        s = kb.stats()
        shares = coverage_shares(kb.query(COVERAGE_CYPHER), s.elements)
        means = mean_weights(kb.query(MEAN_WEIGHT_CYPHER))
    if as_json:
        print_json({**s.model_dump(), "coverage": shares, "mean_weight": means})
    else:
        rows = [{"what": k, "count": v} for k, v in s.model_dump().items()]
        rows += [
            {"what": f"coverage d{d} (>= {COVERAGE_MIN_WORDS[d]} words)", "count": f"{v:.1%}"}
            for d, v in shares.items()
        ]
        rows += [
            {"what": f"mean weight d{d}", "count": "n/a" if v is None else f"{v:.3f}"}
            for d, v in means.items()
        ]
        print_table(rows, title="stats")


# how many elements have n words at distance d (portable: both backends run it)
COVERAGE_CYPHER = (
    "MATCH (e:Element)-[r:EVOKES]->(:Concept) "
    "WITH e, r.distance AS distance, count(*) AS words "
    "RETURN distance, words, count(e) AS elements"
)
MEAN_WEIGHT_CYPHER = (
    "MATCH (:Element)-[r:EVOKES]->(:Concept) "
    "RETURN r.distance AS distance, avg(r.weight) AS weight ORDER BY distance"
)


@app.command()
def cypher(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="A Cypher query.")],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="Parameter as key=value (JSON values allowed)."),
    ] = None,
    write: Annotated[bool, typer.Option("--write", help="Allow a query that writes.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print rows as JSON.")] = False,
    timeout: QueryTimeoutOpt = None,
) -> None:
    """Run a Cypher query (read-only unless --write) under a time limit."""
    from evokegraph.errors import QueryTimeoutError
    from evokegraph.graph import dialect
    from evokegraph.graph.query_limits import run_limited
    from evokegraph.params import parse_params

    params = parse_params(param or [])
    unset = [n for n in dialect.parameters(query) if n not in params]
    if unset:
        raise UserInputError(
            f"the query uses {', '.join('$' + n for n in unset)} but no value was given; pass "
            + " ".join(f"-p {n}=VALUE" for n in unset)
        )
    backend = ""
    try:
        with open_kb(ctx, read_only=not write) as kb:
            backend = kb.backend
            rows = run_limited(kb, lambda r: r.query(query, params, write=write), timeout_s=timeout)
    except ReadOnlyQueryError:
        raise ReadOnlyQueryError(
            "refusing a query that writes; add --write to run it (read-only by default)"
        ) from None
    except QueryTimeoutError:
        raise
    except UserInputError as exc:  # a query the store's Cypher dialect rejects says so
        if not backend:
            raise
        raise UserInputError(dialect.describe(backend, str(exc))) from None
    if as_json:
        print_json(rows)
    elif rows:
        print_table(rows)
    else:
        console.print("done (the query returned no rows)" if write else "no rows", highlight=False)


@app.command()
def show(
    ctx: typer.Context,
    image: Annotated[
        str, typer.Argument(help="Image id (or a unique prefix of it), or the image file.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """An image's elements, associations by distance and captions by depth."""
    from evokegraph.views import image_tables, resolve_image

    with open_kb(ctx, read_only=True) as kb:
        image_id = resolve_image(kb, image)
        view = kb.get_image(image_id)
    if view is None:  # deleted between the two reads
        raise UserInputError(f"image {image_id} is no longer in the knowledge base")
    if as_json:
        print_json(view.model_dump(mode="json"))
        return
    for title, rows in image_tables(view):
        print_table(rows, title=title)


def _register_all() -> None:
    for mod in COMMAND_MODULES:
        try:
            module = importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name == mod:
                continue  # that stage has no commands yet
            raise
        module.register(app)
    app.add_typer(eval_app, name="eval")


_register_all()


# Options of the top-level callback: given after a command they are a usage
# error, and the hint says where they go.
GLOBAL_OPTIONS = (
    "--backend",
    *(f.flag.flag for f in store_option_fields().values()),
)


def _click_exception_types() -> tuple[type[BaseException], ...]:
    """Click's exception base classes: typer's bundled click and the top-level one."""
    import typer._click.exceptions as bundled

    types: list[type[BaseException]] = [bundled.ClickException]
    try:
        import click

        types.append(click.ClickException)
    except ImportError:  # pragma: no cover - typer no longer depends on click
        pass
    return tuple(types)


def usage_line(exc: BaseException) -> str:
    """One line for a click/typer usage error: the message and where to get help."""
    msg = " ".join(str(exc.format_message()).split())  # type: ignore[attr-defined]
    ctx = getattr(exc, "ctx", None)
    opt = getattr(exc, "option_name", None)
    if opt in GLOBAL_OPTIONS and ctx is not None and ctx.parent is not None:
        return (
            f"Error: {msg}; {opt} is a global option: put it before the command, "
            f"e.g. `evokegraph {opt} ... {ctx.info_name}`"
        )
    if ctx is not None:
        return f"Error: {msg.rstrip('.')} (try `{ctx.command_path} --help`)"
    return f"Error: {msg}"


def _show_usage_error(exc: BaseException) -> int:
    if type(exc).__name__ == "NoArgsIsHelpError":  # no command given: the help, exit 2
        ctx = exc.ctx  # type: ignore[attr-defined]
        sys.stderr.write(ctx.get_help() + "\n")
        return 2
    if not hasattr(exc, "ctx"):  # a plain ClickException (e.g. FileError): no usage
        sys.stderr.write(f"Error: {' '.join(str(exc.format_message()).split())}\n")  # type: ignore[attr-defined]
        return int(getattr(exc, "exit_code", 1))
    sys.stderr.write(usage_line(exc) + "\n")
    return 2


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (tests call it in-process).

    Library errors and usage errors print one line on stderr (``Error: ...``);
    usage errors exit 2, a missing command prints the help and exits 2.
    """
    args = sys.argv[1:] if argv is None else argv
    verbose = "--verbose" in args or "-v" in args
    try:
        rv = app(args=args, standalone_mode=False, prog_name="evokegraph")
        if isinstance(rv, int):  # click returns typer.Exit's code here
            return rv
    except EvokeGraphError as exc:
        if verbose:
            raise
        err_console.print(f"Error: {exc}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("Aborted.")
        return 130
    except (OSError, RuntimeError) as exc:  # H24: a full disk is one line, not a traceback
        full = disk_full(exc)
        if full is None or verbose:
            raise
        err_console.print(f"Error: {full}", highlight=False, soft_wrap=True)
        return full.exit_code
    except _click_exception_types() as exc:
        return _show_usage_error(exc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
