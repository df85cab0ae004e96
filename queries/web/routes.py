"""Routes of the explorer: one HTML page and one JSON endpoint per view.

Each pair calls the same function of :mod:`evokegraph.queries.web.data` (or
:mod:`~evokegraph.queries.web.graph`) on a reader of the pool (user queries:
in a lane, awaited without holding a page thread); the JSON endpoints are
documented in the OpenAPI schema (``/api/openapi.json``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from evokegraph.levels import MAX_EVOKES_DISTANCE
from evokegraph.queries.web import data, graph, rings
from evokegraph.queries.web.data import PageNotFound
from evokegraph.queries.web.explorer import media_response, thumb_response
from evokegraph.queries.web.jsonenc import FastJSONResponse

_HEX = re.compile(r"^[0-9a-f]{6,64}$")

Concept = Annotated[str, Query(description="A concept (as stored: lemma, lowercase).")]
Distance = Annotated[
    int | None,
    Query(
        ge=0,
        le=MAX_EVOKES_DISTANCE,
        description=f"0 = as a literal element, 1..{MAX_EVOKES_DISTANCE} = evoked at it.",
    ),
]
Text = Annotated[
    str, Query(description="Words to find in the images' texts (whole words, any inflection).")
]
Page = Annotated[int, Query(ge=1)]
PerPage = Annotated[int, Query(ge=1, le=data.MAX_PER_PAGE)]
Hops = Annotated[int, Query(ge=1, le=3)]
MaxNodes = Annotated[int, Query(ge=1, le=1000)]


# JSON endpoints answer a JSONResponse of the page's dict themselves: FastAPI
# would otherwise validate the returned dict against the declared model in a
# second thread-pool hop and re-encode it (jsonable_encoder: 5 ms of CPU for one
# concept page, json.dumps 0.3 ms). The schema still names the model.
JSON: dict[str, Any] = {"response_model": dict[str, Any]}


def as_json(content: Any) -> Response:
    return FastJSONResponse(content)  # H24: orjson where installed (jsonenc)


def _image_id(ref: str) -> str:
    if not _HEX.match(ref):
        raise PageNotFound(f"{ref!r} is not an image id")
    return ref


def _params(request: Request) -> dict[str, str]:
    return {k: v for k, v in sorted(request.query_params.items())}


def image_page(kb: Any, ref: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The image page's data and its drawing, on one reader (H24: one borrow of
    the pool, not three: under load each borrow may wait its turn)."""
    iv = data.image_view(kb, ref)
    g = graph.image_graph(kb, iv.image.id, iv)
    keep = frozenset({f"image:{iv.image.id}", *graph.caption_nodes(iv)})
    return data.image(kb, iv), graph.to_vis(g, max_nodes=graph.MAX_NODES, keep=keep)


Render = Callable[..., Response]  # a template and its values -> the HTML page


def add(app: FastAPI, x: Callable[[], Any], render: Render, vis_js: Path) -> None:
    """Register every route on ``app``, one group of pages after the other; ``x()``
    is the running Explorer."""
    _files(app, x, vis_js)
    _images(app, x, render)
    _concepts(app, x, render)
    _queries(app, x, render)
    _graphs(app, x, render)


def _files(app: FastAPI, x: Callable[[], Any], vis_js: Path) -> None:
    """The home page's redirect, the vendored script, thumbnails and media files."""

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/images", status_code=307)

    @app.get("/vendor/vis-network.min.js", include_in_schema=False)
    def vis() -> FileResponse:
        return FileResponse(vis_js, media_type="text/javascript")

    @app.get("/thumb/{image_id}", include_in_schema=False)
    def thumb(image_id: str) -> Response:
        return thumb_response(x(), _image_id(image_id))

    @app.get("/media/{image_id}", include_in_schema=False)
    def media(image_id: str) -> Response:
        return media_response(x(), _image_id(image_id))


def _images(app: FastAPI, x: Callable[[], Any], render: Render) -> None:
    """The image grid, one image's page and its rings view."""

    def grid(concept: str, distance: int | None, q: str, p: int, per: int) -> dict[str, Any]:
        f = data.GridFilter(concept=concept, distance=distance, q=q, page=p, per_page=per)
        return x().read(data.images, f)

    @app.get("/api/images", tags=["images"], summary="A page of the image grid", **JSON)
    def api_images(
        concept: Concept = "",
        distance: Distance = None,
        q: Text = "",
        page: Page = 1,
        per_page: PerPage = 48,
    ) -> Response:
        return as_json(grid(concept, distance, q, page, per_page))

    @app.get("/images", include_in_schema=False)
    def images(
        request: Request,
        concept: Concept = "",
        distance: Distance = None,
        q: Text = "",
        page: Page = 1,
        per_page: PerPage = 48,
    ) -> Response:
        return render(request, "images.html", grid=grid(concept, distance, q, page, per_page))

    @app.get("/api/images/{image_id}", tags=["images"], summary="One image's page", **JSON)
    def api_image(image_id: str) -> Response:
        return as_json(x().read(data.image, _image_id(image_id)))

    @app.get("/image/{image_id}", include_in_schema=False)
    def image(request: Request, image_id: str) -> Response:
        view, drawn = x().read(image_page, _image_id(image_id))
        return render(request, "image.html", view=view, drawing=drawn, key=rings.colour_key())

    @app.get(
        "/api/images/{image_id}/rings", tags=["images"], summary="The rings view's layout", **JSON
    )
    def api_rings(image_id: str) -> Response:
        return as_json(rings.rings(x().read(data.image_view, _image_id(image_id))))

    @app.get("/image/{image_id}/rings", include_in_schema=False)
    def rings_page(request: Request, image_id: str) -> Response:
        iv = x().read(data.image_view, _image_id(image_id))
        name = Path(iv.image.uris[0]).name if iv.image.uris else iv.image.id[:12]
        return render(request, "rings.html", layout=rings.rings(iv), title=name)


def _concepts(app: FastAPI, x: Callable[[], Any], render: Render) -> None:
    """One concept's page."""

    @app.get("/api/concepts/{name:path}", tags=["concepts"], summary="One concept's page", **JSON)
    def api_concept(name: str) -> Response:
        return as_json(x().read(data.concept, name))

    @app.get("/concept/{name:path}", include_in_schema=False)
    def concept(request: Request, name: str) -> Response:
        return render(request, "concept.html", view=x().read(data.concept, name))


def _queries(app: FastAPI, x: Callable[[], Any], render: Render) -> None:
    """The named queries and read-only Cypher."""

    @app.get("/api/queries", tags=["queries"], summary="The named queries and their parameters")
    def api_queries() -> list[dict[str, Any]]:
        return data.query_catalogue()

    @app.get(
        "/api/queries/{name}",
        tags=["queries"],
        summary="Run a named query; parameters as query-string values",
        **JSON,
    )
    async def api_query(request: Request, name: str) -> Response:
        return as_json(await x().read_user(data.run_named, name, _params(request)))

    @app.get("/queries", include_in_schema=False)
    def queries(request: Request) -> Response:
        return render(
            request,
            "queries.html",
            catalogue=data.query_catalogue(),
            result=None,
            selected="",
            given={},
        )

    @app.get("/queries/{name}", include_in_schema=False)
    async def query(request: Request, name: str) -> Response:
        given = _params(request)
        run = given.pop("run", "")
        result = await x().read_user(data.run_named, name, given) if run else None
        return render(
            request,
            "queries.html",
            catalogue=data.query_catalogue(),
            result=result,
            selected=name,
            given=given,
        )

    @app.get(
        "/api/cypher", tags=["queries"], summary="Run read-only Cypher (writes refused)", **JSON
    )
    async def api_cypher(
        q: Annotated[str, Query(description="A read-only Cypher statement.")] = "",
    ) -> Response:
        return as_json(await x().read_user(data.cypher, q))

    @app.get("/cypher", include_in_schema=False)
    async def cypher(request: Request, q: str = "") -> Response:
        try:
            result, error = await x().read_user(data.cypher, q), ""
        except data.UserInputError as exc:
            result, error = None, str(exc)
        return render(request, "cypher.html", q=q, result=result, error=error)


def _graphs(app: FastAPI, x: Callable[[], Any], render: Render) -> None:
    """The graph view of an image's or a concept's neighbourhood."""

    def drawing(image: str, concept: str, hops: int, max_nodes: int) -> dict[str, Any]:
        if image:
            g = x().read(graph.image_graph, _image_id(image))
            return graph.to_vis(g, max_nodes=max_nodes, keep=frozenset({f"image:{image}"}))
        if concept:
            g = x().read(graph.concept_graph, concept, hops, graph.HOP_LIMIT, max_nodes)
            key = " ".join(concept.split()).casefold()
            return graph.to_vis(g, max_nodes=max_nodes, keep=frozenset({key}))
        raise data.UserInputError("give ?image=ID or ?concept=NAME")

    @app.get(
        "/api/graph",
        tags=["graph"],
        summary="vis-network nodes and edges of a neighbourhood",
        **JSON,
    )
    def api_graph(
        image: str = "", concept: str = "", hops: Hops = 2, max_nodes: MaxNodes = graph.MAX_NODES
    ) -> Response:
        return as_json(drawing(image, concept, hops, max_nodes))

    @app.get("/graph", include_in_schema=False)
    def graph_page(
        request: Request,
        image: str = "",
        concept: str = "",
        hops: Hops = 2,
        max_nodes: MaxNodes = graph.MAX_NODES,
    ) -> Response:
        drawn = drawing(image, concept, hops, max_nodes)
        return render(
            request,
            "graph.html",
            image=image,
            concept=concept,
            hops=hops,
            max_nodes=max_nodes,
            drawing=drawn,
            key=rings.colour_key(),
        )
