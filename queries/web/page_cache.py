"""Rendered explorer pages kept per write version of the knowledge base (H24,
issue 24: the explorer under load).

A page of the explorer (an image, a concept, a grid page, a graph, and their
JSON twins) depends only on its path and query string and on what the KB
holds. So the finished answer (status, headers, body) is kept, keyed by path
and query string, for the KB's current *write version* (the same value
:mod:`evokegraph.graph.kb_cache` keys aggregates by: it changes on every
committed write, by this process or another). A request for a kept page is
answered from memory in the event loop: no thread, no reader, no query, no
template. The first request after any write finds the version changed, drops
every kept page and builds afresh, so a kept page is always what a fresh
request would return. A page built while a write happened is not kept.

Bounded: at most :data:`MAX_BYTES` of bodies in all (least recently used
first out), no body above :data:`MAX_BODY`. Only ``GET`` answers with status
200 of the page routes below are kept; user queries (the Cypher box, named
queries), thumbnails, files and errors never are. A store without a write
version (a Bolt server) is never cached.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

MAX_BYTES = 32 * 2**20  # bodies kept in all
MAX_BODY = 2 * 2**20  # a larger page is served, not kept
# path prefixes of the pages that depend only on the URL and the KB
PAGES = (
    "/images",
    "/image/",
    "/concept/",
    "/graph",
    "/api/images",
    "/api/concepts/",
    "/api/graph",
)

Entry = tuple[int, list[tuple[bytes, bytes]], bytes]  # status, headers, body


def cacheable(path: str) -> bool:
    return path.startswith(PAGES)


def version_of(store: object) -> Callable[[], Hashable | None]:
    """A function giving ``store``'s current write version (None: never cache)."""
    version = getattr(store, "write_version", None)
    ident = getattr(store, "cache_identity", None)
    if not callable(version) or not callable(ident):
        return lambda: None
    me = ident()  # once: it resolves the path (a few syscalls), the version is two stat()s
    return lambda: (me, version())


class PageCache:
    """Answers by URL for one write version of the KB, at most ``max_bytes`` of bodies."""

    def __init__(
        self, version: Callable[[], Hashable | None], *, max_bytes: int = MAX_BYTES
    ) -> None:
        self.version = version
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self._at: Hashable | None = None  # the version the kept pages belong to
        self._pages: OrderedDict[str, Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._pages)

    def get(self, key: str, version: Hashable) -> Entry | None:
        with self._lock:
            if version != self._at:
                self._drop_all(version)
            hit = self._pages.get(key)
            if hit is None:
                self.misses += 1
                return None
            self._pages.move_to_end(key)
            self.hits += 1
            return hit

    def put(self, key: str, version: Hashable, entry: Entry) -> None:
        body = entry[2]
        if len(body) > min(MAX_BODY, self.max_bytes):
            return
        with self._lock:
            if version != self._at:  # a write came while it was built: not kept
                return
            old = self._pages.pop(key, None)
            if old is not None:
                self._bytes -= len(old[2])
            self._pages[key] = entry
            self._bytes += len(body)
            while self._bytes > self.max_bytes:
                _, dropped = self._pages.popitem(last=False)
                self._bytes -= len(dropped[2])

    def _drop_all(self, version: Hashable) -> None:
        self._pages.clear()
        self._bytes = 0
        self._at = version


class PageCacheMiddleware:
    """ASGI middleware: a kept page is answered at once; a page answered with
    200 is kept. ``cache_of()`` is the running explorer's :class:`PageCache`
    (None before start-up: every request passes through)."""

    def __init__(self, app: Any, cache_of: Callable[[], PageCache | None]) -> None:
        self.app = app
        self.cache_of = cache_of

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        cache = self.cache_of() if scope["type"] == "http" else None
        if cache is None or scope["method"] != "GET" or not cacheable(scope["path"]):
            await self.app(scope, receive, send)
            return
        version = cache.version()
        if version is None:
            await self.app(scope, receive, send)
            return
        key = scope["path"] + "?" + scope["query_string"].decode("latin-1")
        hit = cache.get(key, version)
        if hit is not None:
            status, headers, body = hit
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        start: dict[str, Any] = {}
        parts: list[bytes] = []
        whole = [False]

        async def keep(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                parts.append(message.get("body", b""))
                whole[0] = not message.get("more_body", False)
            await send(message)

        await self.app(scope, receive, keep)
        if start.get("status") == 200 and whole[0] and cache.version() == version:
            headers = [(bytes(k), bytes(v)) for k, v in start.get("headers", [])]
            cache.put(key, version, (200, headers, b"".join(parts)))
