"""The explorer's reads: a bounded pool of readers for the pages, user queries
in worker processes of their own, each query under a time limit, interrupted
when its client goes away.

One slow query must never stop the explorer answering: every page request
borrows one of a few readers of the store (LadybugDB: one connection each on
the shared database; reads run side by side, the engine releases the GIL),
queries on it stop at the time limit (:mod:`evokegraph.graph.query_limits`).
User queries (the Cypher box, named queries) run in *lanes*
(:mod:`evokegraph.queries.web.query_process`): child processes at a lower CPU
priority, so a cross join never takes CPU or readers from the pages. Where
lanes cannot be used (a store opened for writing, a store without readers)
user queries run on the pool but may hold at most all readers but one, so the
pages always have one. :class:`CancelOnDisconnect`, an ASGI middleware,
interrupts the query (reader or lane) of a request whose client disconnects.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from evokegraph.errors import QueryTimeoutError
from evokegraph.graph import query_limits
from evokegraph.graph.store import GraphStore, StoreConfig
from evokegraph.queries.web import data
from evokegraph.queries.web.query_process import Lanes, LaneUnavailable

T = TypeVar("T")
READERS = 4  # concurrent reads; requests beyond wait for a free reader
PAGE_THREADS = 8  # threads serving page requests at once; more wait their turn (FIFO)
# `serve`'s GIL switch interval: the event loop that accepts, reads and answers
# every connection waits up to this long for the GIL each time the page threads
# hold it. 5 ms, Python's default (H24e, 2026-12-06): a forced switch wakes the
# waiting thread and waits until it has the GIL (context switches; likely what
# costs on a busy 2-core VM); with pages that hold the GIL less than before, 5 ms gave
# 239-249 requests/s and p99 245-247 ms against 205-216 and 282-311 at 1 ms
# (A/B in alternation, 10,002 pages, 100k KB; 1 ms had won two pairs at load 7-9
# on 2026-12-05)
SWITCH_INTERVAL_S = 0.005
READER_THREADS = 1  # threads per query: one slow query cannot take every core
USER_QUERIES: tuple[Callable[..., Any], ...] = (data.cypher, data.run_named)
USE_LANES = True  # user queries in worker processes where the store allows it


class Interruptible(Protocol):
    def interrupt(self) -> None: ...


class Cancel:
    """One request's cancel flag and the readers it is using right now."""

    def __init__(self) -> None:
        self.cancelled = False
        self._by_id: dict[int, Interruptible | GraphStore] = {}
        self._lock = threading.Lock()

    def track(self, r: Interruptible | GraphStore) -> None:
        with self._lock:
            if self.cancelled:
                raise query_limits.stopped_error(None)
            self._by_id[id(r)] = r

    def untrack(self, r: Interruptible | GraphStore) -> None:
        with self._lock:
            self._by_id.pop(id(r), None)

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            for r in self._by_id.values():
                stop = getattr(r, "interrupt", None)  # a reader or a lane; none on test doubles
                if callable(stop):
                    stop()


CURRENT: contextvars.ContextVar[Cancel | None] = contextvars.ContextVar(
    "evokegraph_request_cancel", default=None
)


class ReaderPool:
    """``size`` readers of ``store`` limited to ``timeout_s`` (default
    :func:`~evokegraph.graph.query_limits.query_timeout`); a store without
    readers is shared by all under one lock, without a limit."""

    def __init__(
        self, store: GraphStore, *, size: int | None = None, timeout_s: float | None = None
    ) -> None:
        self.timeout_s = query_limits.query_timeout(timeout_s)
        self._free: queue.Queue[GraphStore] = queue.Queue()
        self._own: list[GraphStore] = []
        if isinstance(store, query_limits.HasReaders):
            n = max(1, size or READERS)
            self._own = [store.reader(self.timeout_s, READER_THREADS) for _ in range(n)]
        for r in self._own or [store]:
            self._free.put(r)
        lanes = max(1, len(self._own) - 1)
        self._user = threading.BoundedSemaphore(lanes)
        self.lanes = lanes_for(store, self.timeout_s)

    def read(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(reader, *args)``: a user query in a lane; anything else on a free
        reader (waiting for one at most the time limit)."""
        user = fn in USER_QUERIES
        if user and self.lanes is not None:
            try:
                return self._in_lane(fn, args)
            except LaneUnavailable:
                self.lanes = None  # the store cannot be opened there: answer here
        if user and not self._user.acquire(timeout=self.timeout_s):
            raise self._busy()
        try:
            try:
                r = self._free.get(timeout=self.timeout_s)
            except queue.Empty:
                raise self._busy() from None
            try:
                return self._run(r, fn, args)
            finally:
                self._free.put(r)
        finally:
            if user:
                self._user.release()

    def _run(self, r: GraphStore, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        cancel = CURRENT.get()
        if cancel is not None:
            cancel.track(r)
        try:
            return fn(r, *args)
        except RuntimeError as exc:  # a stop inside a store read other than query()
            if query_limits.is_stopped(exc):
                gone = cancel is not None and cancel.cancelled
                raise query_limits.stopped_error(None if gone else self.timeout_s) from None
            raise
        finally:
            if cancel is not None:
                cancel.untrack(r)

    def _in_lane(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        assert self.lanes is not None
        lane = self.lanes.borrow()
        cancel = CURRENT.get()
        try:
            if cancel is not None:
                cancel.track(lane)
            return lane.run(fn.__name__, args)
        finally:
            if cancel is not None:
                cancel.untrack(lane)
            self.lanes.give_back(lane)

    def _busy(self) -> QueryTimeoutError:
        return QueryTimeoutError(
            f"the explorer is busy: no reader came free within {self.timeout_s:g} s; try again"
        )

    def close(self) -> None:
        """Close the readers this pool opened (never the store itself)."""
        for r in self._own:
            r.close()
        self._own = []
        if self.lanes is not None:
            self.lanes.close()


def lanes_for(store: GraphStore, timeout_s: float) -> Lanes | None:
    """Lanes for user queries over ``store``: only an embedded store opened
    read-only (a child process can open it beside this one); a server store
    (Bolt) runs queries elsewhere already."""
    if not USE_LANES or getattr(store, "backend", "") != "ladybug":
        return None
    if not getattr(store, "read_only", False) or not isinstance(store, query_limits.HasReaders):
        return None
    return Lanes(StoreConfig("ladybug", path=str(store.path)), timeout_s)  # type: ignore[attr-defined]


class CancelOnDisconnect:
    """ASGI middleware: each HTTP request gets a :class:`Cancel` (in
    :data:`CURRENT`, which request threads inherit); when the client disconnects
    before the answer, the reader running its query is interrupted."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cancel = Cancel()
        token = CURRENT.set(cancel)
        inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        async def pump() -> None:
            while True:
                message = await receive()
                await inbox.put(message)
                if message["type"] == "http.disconnect":
                    cancel.cancel()
                    return

        watcher = asyncio.create_task(pump())
        try:
            await self.app(scope, inbox.get, send)
        finally:
            watcher.cancel()
            CURRENT.reset(token)
