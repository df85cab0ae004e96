"""CLI: ``query``, ``analyze``, ``viz``."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Annotated

import typer

from evokegraph.cli_common import QueryTimeoutOpt, console, open_kb, print_json, print_table
from evokegraph.errors import UserInputError

query_app = typer.Typer(
    help="Named Cypher queries over the association graph.", no_args_is_help=True
)
analyze_app = typer.Typer(help="Graph analytics (networkx).", no_args_is_help=True)
viz_app = typer.Typer(help="Interactive, offline HTML graph views (pyvis).", no_args_is_help=True)

Limit = Annotated[int, typer.Option("--top", min=1, help="Rows to print.")]


@query_app.command("list")
def query_list() -> None:
    """The named queries and their parameters."""
    from evokegraph.queries.library import catalogue

    rows = [
        {
            "name": q.name,
            "parameters": ", ".join(
                p.name if p.required else f"{p.name}={p.default}" for p in q.params
            ),
            "description": q.description,
            "cost": q.cost,
        }
        for q in catalogue().values()
    ]
    print_table(rows, title="named queries")


@query_app.command("show")
def query_show(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="Query name (see `query list`).")]
) -> None:
    """Print a query's Cypher (for the current backend) and its parameters."""
    from evokegraph.cli_common import state
    from evokegraph.queries.library import get

    q = get(name)
    console.print(f"[bold]{q.name}[/bold]: {q.description}")
    for p in q.params:
        console.print(
            f"  ${p.name}: {'required' if p.required else f'default {p.default}'} - {p.help}"
        )
    sys.stdout.write(q.text(state(ctx).store.backend) + "\n")


@query_app.command("run")
def query_run(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Query name (see `query list`).")],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Parameter key=value (repeatable).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, json or csv.")] = "table",
    timeout: QueryTimeoutOpt = None,
) -> None:
    """Run a named query with parameters, under a time limit."""
    from evokegraph.graph.query_limits import run_limited
    from evokegraph.params import parse_params
    from evokegraph.queries.library import run

    if fmt not in ("table", "json", "csv"):
        raise UserInputError(f"unknown format {fmt!r}; use table, json or csv")
    params = parse_params(param or [])
    with open_kb(ctx, read_only=True) as kb:
        rows = run_limited(kb, run, name, params, timeout_s=timeout)
    if fmt == "json":
        print_json(rows)
    elif fmt == "csv":
        w = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else [])
        w.writeheader()
        w.writerows(rows)
    else:
        print_table(rows, title=name)


@analyze_app.command("pagerank")
def analyze_pagerank(ctx: typer.Context, top: Limit = 20) -> None:
    """PageRank and degree of concepts in the shared association network."""
    from evokegraph.queries import analytics

    with open_kb(ctx, read_only=True) as kb:
        g = analytics.concept_graph(kb)
    print_table(analytics.pagerank(g, top), title="pagerank")


@analyze_app.command("communities")
def analyze_communities(
    ctx: typer.Context,
    resolution: Annotated[float, typer.Option("--resolution", help="Louvain resolution.")] = 1.0,
    seed: Annotated[int, typer.Option("--seed", help="Louvain seed.")] = 0,
    top: Limit = 20,
) -> None:
    """Communities of concepts (networkx Louvain)."""
    from evokegraph.queries import analytics

    with open_kb(ctx, read_only=True) as kb:
        g = analytics.concept_graph(kb)
    print_table(analytics.communities(g, resolution, seed, top), title="communities")


@analyze_app.command("path")
def analyze_path(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="A concept.")],
    target: Annotated[str, typer.Argument(help="Another concept.")],
) -> None:
    """The strongest associative path between two concepts (max product of weights)."""
    from evokegraph.queries import analytics

    with open_kb(ctx, read_only=True) as kb:
        g = analytics.concept_graph(kb)
    print_table(analytics.strongest_path(g, source, target), title=f"{source} -> {target}")


@analyze_app.command("export")
def analyze_export(
    ctx: typer.Context,
    out: Annotated[Path, typer.Argument(help="Output file, .graphml or .gexf (Gephi).")],
    concept: Annotated[
        str | None, typer.Option("--concept", help="Only this concept's neighbourhood.")
    ] = None,
    hops: Annotated[
        int, typer.Option("--hops", min=1, help="Neighbourhood radius with --concept.")
    ] = 2,
    image: Annotated[
        str | None, typer.Option("--image", help="Only this image's neighbourhood.")
    ] = None,
) -> None:
    """Export the graph (or a neighbourhood) to GraphML or GEXF."""
    from evokegraph.queries import analytics
    from evokegraph.views import resolve_image

    with open_kb(ctx, read_only=True) as kb:
        if image:
            g = analytics.image_graph(kb, resolve_image(kb, image))
        else:
            g = analytics.concept_graph(kb)
            if concept:
                g = analytics.ego_graph(g, concept, hops)
    analytics.export(g, out)
    console.print(f"wrote {g.number_of_nodes()} nodes, {g.number_of_edges()} edges to {out}")


MaxNodes = Annotated[
    int, typer.Option("--max-nodes", min=1, help="Cap on drawn nodes (strongest first).")
]
Out = Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")]


@viz_app.command("image")
def viz_image(
    ctx: typer.Context,
    image: Annotated[str, typer.Argument(help="Image id, id prefix or file.")],
    out: Out = Path("image.html"),
    max_nodes: MaxNodes = 300,
) -> None:
    """An image, its elements and their associations by distance."""
    from evokegraph.queries import analytics, viz
    from evokegraph.views import resolve_image

    with open_kb(ctx, read_only=True) as kb:
        image_id = resolve_image(kb, image)
        g = analytics.image_graph(kb, image_id)
    uri = g.nodes[f"image:{image_id}"].get("uri") or ""
    name = Path(uri).name if uri else image_id[:12]
    _, n = viz.render(g, out, title=name, max_nodes=max_nodes, keep={f"image:{image_id}"})
    console.print(f"wrote {out} ({n} nodes)")


@viz_app.command("concept")
def viz_concept(
    ctx: typer.Context,
    concept: Annotated[str, typer.Argument(help="A concept.")],
    hops: Annotated[int, typer.Option("--hops", min=1, help="Neighbourhood radius.")] = 2,
    out: Out = Path("concept.html"),
    max_nodes: MaxNodes = 300,
) -> None:
    """A concept's neighbourhood in the shared association network."""
    from evokegraph.queries import analytics, viz

    with open_kb(ctx, read_only=True) as kb:
        g = analytics.ego_graph(analytics.concept_graph(kb), concept, hops)
    _, n = viz.render(g, out, title=f"{concept}, {hops} hops", max_nodes=max_nodes, keep={concept})
    console.print(f"wrote {out} ({n} nodes)")


@viz_app.command("path")
def viz_path(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="A concept.")],
    target: Annotated[str, typer.Argument(help="Another concept.")],
    out: Out = Path("path.html"),
) -> None:
    """The strongest associative path between two concepts."""
    from evokegraph.queries import analytics, viz

    with open_kb(ctx, read_only=True) as kb:
        g = analytics.concept_graph(kb)
    steps = analytics.strongest_path(g, source, target)
    sub = analytics.path_graph(g, steps)
    _, n = viz.render(sub, out, title=f"{source} -> {target}")
    console.print(f"wrote {out} ({n} nodes)")


def register(app: typer.Typer) -> None:
    app.add_typer(query_app, name="query")
    app.add_typer(analyze_app, name="analyze")
    app.add_typer(viz_app, name="viz")
