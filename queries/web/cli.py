"""CLI: ``evokegraph serve``, the local web explorer."""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path
from typing import Annotated

import typer

from evokegraph.cli_common import console, err_console, open_kb, state
from evokegraph.errors import UserInputError


def serve_cmd(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option("--host", help="Address to bind (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port.")] = 8000,
    thumbs: Annotated[
        Path | None,
        typer.Option("--thumbs", help="Thumbnail cache folder (default: <db>.thumbs/)."),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            help="Stop each query after this many seconds [default: $EVOKEGRAPH_QUERY_TIMEOUT or 30].",
        ),
    ] = None,
) -> None:
    """Browse the knowledge base in a web browser (read-only)."""
    try:
        import uvicorn

        from evokegraph.queries.web.app import create_app
        from evokegraph.queries.web.readers import SWITCH_INTERVAL_S
    except ModuleNotFoundError as exc:
        raise UserInputError(
            f"`evokegraph serve` needs {exc.name}; install it with pip install 'evokegraph[serve]'"
        ) from None
    from evokegraph.graph.query_limits import query_timeout

    limit = query_timeout(timeout)  # a bad --timeout is one line here, not at startup
    cfg = state(ctx).store
    if not _loopback(host):
        err_console.print(
            f"warning: serving on {host}, reachable from other machines; the explorer "
            "has no login (it is read-only, but shows every image and caption)"
        )
    where = cfg.location()
    with open_kb(ctx, read_only=True) as kb:  # a bad --db fails here, as one line
        app = create_app(cfg, store=kb, thumbs_dir=thumbs, query_timeout_s=limit)
        console.print(f"evokegraph explorer on http://{host}:{port}/ ({where}, read-only)")
        sys.setswitchinterval(SWITCH_INTERVAL_S)  # this process is the server
        # H24: no access log (at "warning" it printed nothing, but uvicorn still built
        # each line's arguments and looked its logger up: two getLogger calls a request)
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_cmd)
