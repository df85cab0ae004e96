"""The explorer's shared state (the read-only store, its pool of readers and
lanes, the thumbnail cache) and the two file responses; imported by the app
factory and the routes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from fastapi.responses import FileResponse, Response

from evokegraph.graph.store import GraphStore
from evokegraph.queries.web.data import PageNotFound
from evokegraph.queries.web.page_cache import PageCache, version_of
from evokegraph.queries.web.query_process import LANES, MAX_WAITING
from evokegraph.queries.web.readers import ReaderPool
from evokegraph.queries.web.thumbs import MEDIA_TYPES, ThumbCache, first_file

T = TypeVar("T")
USER_THREADS = (
    LANES + MAX_WAITING + 1
)  # threads for user queries (running + waiting + one busy answer)
PLACEHOLDER = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256">'
    '<rect width="256" height="256" fill="#ddd"/>'
    '<text x="128" y="135" font-family="sans-serif" font-size="18" text-anchor="middle" '
    'fill="#777">no file</text></svg>'
)


class Explorer:
    """The open store (read-only), a pool of time-limited readers of it, and the thumbnail cache."""

    def __init__(
        self, store: GraphStore, thumbs: ThumbCache, *, timeout_s: float | None = None
    ) -> None:
        self.kb = store
        self.thumbs = thumbs
        self.pool = ReaderPool(store, timeout_s=timeout_s)  # H24: concurrent, time-limited reads
        self._user_threads: anyio.CapacityLimiter | None = None
        self.pages = PageCache(version_of(store))  # H24: rendered pages per write version

    def read(self, fn: Callable[..., T], *args: Any) -> T:
        return self.pool.read(fn, *args)

    async def read_user(self, fn: Callable[..., T], *args: Any) -> T:
        """A user query (Cypher box, named query), awaited on threads of its
        own: one waiting for its lane never holds a page request's thread."""
        if self._user_threads is None:  # made in the server's event loop
            self._user_threads = anyio.CapacityLimiter(USER_THREADS)
        call = functools.partial(self.pool.read, fn, *args)
        return await anyio.to_thread.run_sync(call, limiter=self._user_threads)

    def uris(self, image_id: str) -> tuple[list[str], str]:
        rows = self.read(
            lambda kb: kb.query(
                "MATCH (i:Image {id: $id}) RETURN i.uris AS uris, i.format AS format",
                {"id": image_id},
            )
        )
        if not rows:
            raise PageNotFound(f"no image {image_id!r}")
        return list(rows[0]["uris"] or []), str(rows[0]["format"] or "")


def media_type(fmt: str) -> str:
    return MEDIA_TYPES.get(fmt.upper(), "")


def media_response(x: Explorer, image_id: str) -> Response:
    """The full picture from its stored path, only in a known raster format."""
    uris, fmt = x.uris(image_id)
    src = first_file(uris)
    kind = media_type(fmt)
    if src is None or not kind:
        raise PageNotFound(f"image {image_id[:12]} has no readable file in a web format")
    return FileResponse(src, media_type=kind)


def thumb_response(x: Explorer, image_id: str) -> Response:
    uris, _ = x.uris(image_id)
    out = x.thumbs.get(image_id, uris)
    if out is None:
        return Response(PLACEHOLDER, media_type="image/svg+xml")
    return FileResponse(out, media_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})
