"""``evokegraph server start|stop|status``: a local Bolt server for ``--backend neo4j``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evokegraph.cli_common import console, print_json

server_app = typer.Typer(
    help="A local Bolt server (ArcadeDB, Neo4j 5 Cypher) for --backend neo4j.",
    no_args_is_help=True,
)

DirOption = Annotated[
    Path,
    typer.Option("--dir", help="Server directory: data, logs, pid and credentials."),
]


def _print_env(info: object, as_json: bool) -> None:
    from evokegraph.graph.server import ServerInfo

    assert isinstance(info, ServerInfo)
    if as_json:
        print_json({"pid": info.pid, "uri": info.uri, "http_port": info.http_port, **info.env()})
        return
    console.print(f"Bolt server running: {info.uri} (pid {info.pid}, data in {info.root})")
    console.print("point evokegraph at it with:", highlight=False)
    for k, v in info.env().items():
        console.print(f"export {k}={v}", highlight=False, soft_wrap=True)


@server_app.command("start")
def start_cmd(
    dir: DirOption = Path("evokegraph-server"),
    port: Annotated[int, typer.Option("--port", help="Bolt port (0: any free port).")] = 7687,
    http_port: Annotated[
        int, typer.Option("--http-port", help="ArcadeDB HTTP/Studio port (0: any free port).")
    ] = 2480,
    password: Annotated[
        str,
        typer.Option(
            "--password",
            envvar="EVOKEGRAPH_SERVER_PASSWORD",
            help="root password (default: random).",
        ),
    ] = "",
    heap: Annotated[str, typer.Option("--heap", help="Java heap, e.g. 1g or 512m.")] = "1g",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Start ArcadeDB's Bolt server on 127.0.0.1 and print how to connect."""
    from evokegraph.graph import server

    info = server.start(
        dir, bolt_port=port, http_port=http_port, password=password or None, heap=heap
    )
    _print_env(info, as_json)


@server_app.command("stop")
def stop_cmd(dir: DirOption = Path("evokegraph-server")) -> None:
    """Stop the server started from --dir (its data stays)."""
    from evokegraph.graph import server

    info = server.stop(dir)
    if info is None:
        console.print(f"no server running from {dir}")
    else:
        console.print(f"stopped the Bolt server (pid {info.pid}); data kept in {info.root}")


@server_app.command("status")
def status_cmd(
    dir: DirOption = Path("evokegraph-server"),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Whether the server of --dir runs, and how to connect to it (exit 1 if not)."""
    from evokegraph.graph import server

    info = server.status(dir)
    if info is None:
        if as_json:
            print_json({"running": False})
        else:
            console.print(f"no server running from {dir}")
        raise typer.Exit(1)
    _print_env(info, as_json)


def register(app: typer.Typer) -> None:
    app.add_typer(server_app, name="server")
