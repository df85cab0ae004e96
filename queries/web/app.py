"""The FastAPI application behind ``evokegraph serve``.

Read-only by construction: the store is opened read-only, the Cypher box goes
through the store's write guard, and no route writes. Every page is
server-rendered with Jinja2 (autoescape on) from the same dict the matching
``/api/...`` endpoint returns as JSON (OpenAPI at ``/api/openapi.json``).
Scripts come only from this package (``/static``) and vis-network from
pyvis's installed package data; a Content-Security-Policy forbids anything
else, inline scripts included.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import anyio.to_thread
import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from evokegraph.errors import EvokeGraphError, ExplorerBusyError, UserInputError
from evokegraph.graph.store import GraphStore, StoreConfig, open_store
from evokegraph.queries.web.data import PageNotFound
from evokegraph.queries.web.escaping import EscapingTemplate
from evokegraph.queries.web.explorer import Explorer
from evokegraph.queries.web.jsonenc import dumps_text
from evokegraph.queries.web.page_cache import PageCache, PageCacheMiddleware
from evokegraph.queries.web.readers import PAGE_THREADS, CancelOnDisconnect
from evokegraph.queries.web.thumbs import ThumbCache, default_dir

HERE = Path(__file__).parent
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def vis_network_file() -> Path:
    """vis-network as pyvis installs it (never a CDN, never a vendored copy)."""
    lib = resources.files("pyvis") / "lib"
    found = sorted(
        (p for p in lib.iterdir() if p.name.startswith("vis-")),
        key=lambda p: [int(x) for x in p.name[4:].split(".") if x.isdigit()],
    )
    if not found:
        raise EvokeGraphError("pyvis ships no vis-network; reinstall pyvis (pip install pyvis)")
    return Path(str(found[-1] / "vis-network.min.js"))


def create_app(
    config: StoreConfig | None = None,
    *,
    store: GraphStore | None = None,
    thumbs_dir: Path | None = None,
    query_timeout_s: float | None = None,
) -> FastAPI:
    """The app over ``store`` (kept open, not closed here) or over a store
    opened read-only from ``config`` for the app's lifetime. Every read runs
    under ``query_timeout_s`` (default: ``$EVOKEGRAPH_QUERY_TIMEOUT`` or 30 s)."""
    cfg = config or StoreConfig.from_env()
    holder: dict[str, Explorer] = {}

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[None]:
        kb = store or open_store(cfg.replace(read_only=True))
        folder = thumbs_dir or default_dir(cfg.path)
        holder["x"] = Explorer(kb, ThumbCache(folder), timeout_s=query_timeout_s)
        a.state.explorer = holder["x"]  # for tests and tools: the running Explorer
        # H24: page requests run on a few threads (FIFO beyond): 32 threads all
        # holding the GIL by turns made every page as slow as the slowest
        anyio.to_thread.current_default_thread_limiter().total_tokens = PAGE_THREADS
        try:
            yield
        finally:
            holder["x"].pool.close()
            if store is None:
                kb.close()

    app = FastAPI(
        title="evokegraph explorer",
        summary="Read-only views of an evokegraph knowledge base.",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI and ReDoc load from CDNs; the schema is enough
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    templates = page_templates()
    app.add_middleware(CancelOnDisconnect)  # H24: a gone client's query is interrupted

    def pages() -> PageCache | None:
        return holder["x"].pages if "x" in holder else None

    app.add_middleware(PageCacheMiddleware, cache_of=pages)  # H24: kept pages, no thread
    app.add_middleware(SecurityHeaders)  # outermost: every answer, errors included
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    vis_js = vis_network_file()

    def x() -> Explorer:
        return holder["x"]

    add_error_pages(app, templates)

    def page(request: Request, name: str, **ctx: Any) -> Response:
        return templates.TemplateResponse(request, name, ctx)

    from evokegraph.queries.web import routes

    routes.add(app, x, page, vis_js)
    return app


def page_templates() -> Jinja2Templates:
    """The pages' Jinja2 templates (autoescape on, an undefined name an error)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(HERE / "templates")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        auto_reload=False,  # templates ship with the package: no stat() per render
    )
    env.globals["qs"] = query_string
    env.policies["json.dumps_function"] = dumps_text  # H24: `|tojson` by orjson where installed
    env.template_class = EscapingTemplate  # H24: `{{ }}` escaped with one Python call, not two
    return Jinja2Templates(env=env)


def add_error_pages(app: FastAPI, templates: Jinja2Templates) -> None:
    """A library error as its status (404 no such page, 400 bad input, 503 busy, else
    500): JSON under ``/api/``, the error page elsewhere."""

    @app.exception_handler(EvokeGraphError)
    async def on_error(request: Request, exc: EvokeGraphError) -> Response:
        status = 404 if isinstance(exc, PageNotFound) else 400
        status = status if isinstance(exc, UserInputError) else 500
        busy = isinstance(exc, ExplorerBusyError)  # H24: full lanes, answered at once
        status, headers = (503, {"Retry-After": "5"}) if busy else (status, None)
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": str(exc)}, status_code=status, headers=headers)
        return templates.TemplateResponse(
            request,
            "error.html",
            {"message": str(exc), "status": status},
            status_code=status,
            headers=headers,
        )


SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


class SecurityHeaders:
    """ASGI middleware: the CSP and two more headers on every response. A plain
    ASGI wrapper, not ``@app.middleware("http")``: Starlette's
    BaseHTTPMiddleware runs each response through an extra task and memory
    stream (about 1 ms of CPU a request, measured under load)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                names = {k for k, _ in SECURITY_HEADERS}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": kept + SECURITY_HEADERS}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def query_string(**kw: Any) -> str:
    """``a=1&b=x`` from the non-empty values (sorted keys; for links in templates)."""
    return urlencode({k: v for k, v in sorted(kw.items()) if v not in (None, "")})
