"""The explorer's user queries (the Cypher box, named queries) in worker
processes of their own (issue 24, the explorer under load).

A user query may run for its whole time limit on a full core. In the server's
process it competed with the page requests for the cores and the GIL (p99 of
the pages 2.3 s beside a cross join). Here each query runs in a *lane*: a
child process with its own read-only open of the knowledge base, started at a
lower CPU priority (``nice``), so page requests always come first and a query
that crashes the embedded engine takes down only its lane. A lane runs one
query at a time; a query that finds every lane busy waits for one, and when
:data:`MAX_WAITING` queries wait already it is answered at once with one line
(:class:`~evokegraph.errors.ExplorerBusyError`, HTTP 503).

Inside the lane the query runs under the same time limit as everywhere
(:mod:`evokegraph.graph.query_limits`); :meth:`Lane.interrupt` (a client that
went away) stops it; a lane that does not answer within the limit and a grace
period is killed and started again on its next query.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

from evokegraph.errors import EvokeGraphError, ExplorerBusyError, UserInputError
from evokegraph.graph import query_limits
from evokegraph.graph.store import GraphStore, StoreConfig, open_store

NICE = 10  # lanes' CPU priority below the pages' (CFS weight 110 vs 1024)
LANES = 2  # user queries at once
MAX_WAITING = 8  # user queries waiting for a lane; more are answered 503 at once
GRACE_S = 10.0  # past the limit, a silent lane is killed
START_S = 60.0  # a lane's start (imports, open) at most
QUERY_THREADS = 1  # threads of the engine per user query
FUNCTIONS = ("cypher", "run_named")  # what a lane runs: functions of queries.web.data


# -- the child ----------------------------------------------------------------
def _child(conn: Connection, cfg: StoreConfig, timeout_s: float, priority: int) -> None:
    """A lane's process: open the store read-only, then answer ``("run", fn,
    args)`` with ``("ok", value)`` / ``("error", exc)``; ``("interrupt",)``
    stops the running query. ``priority``: the nice value it runs at (the
    server sets it from outside right after the spawn; set here too, in case
    that failed, before the engine starts its threads: they inherit it)."""
    at_start = os.getpriority(os.PRIO_PROCESS, 0)
    if at_start < priority:
        os.setpriority(os.PRIO_PROCESS, 0, priority)
    from evokegraph.queries.web import data

    try:
        kb = open_store(cfg.replace(read_only=True))
        reader: GraphStore = kb
        if isinstance(kb, query_limits.HasReaders):
            reader = kb.reader(timeout_s, QUERY_THREADS)
    except EvokeGraphError as exc:
        conn.send(("failed", str(exc)))
        return
    conn.send(("ready", at_start))
    send = threading.Lock()

    def work(fn: str, args: tuple[Any, ...]) -> None:
        try:
            answer: tuple[str, Any] = ("ok", getattr(data, fn)(reader, *args))
        except EvokeGraphError as exc:
            answer = ("error", exc)
        except Exception as exc:  # a bug: its text, not the traceback
            answer = ("error", EvokeGraphError(f"{type(exc).__name__}: {exc}"))
        with send:
            conn.send(answer)

    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):  # the server went away
            break
        if msg[0] == "run" and msg[1] in FUNCTIONS:
            threading.Thread(target=work, args=(msg[1], msg[2]), daemon=True).start()
        elif msg[0] == "interrupt":
            query_limits.interrupt(reader)
        elif msg[0] == "stop":
            break
    kb.close()


# -- the server's side ----------------------------------------------------------
class LaneUnavailable(Exception):
    """The lane's process could not open the store (the server answers in-process)."""


class Lane:
    """One child process that runs user queries one at a time."""

    def __init__(self, cfg: StoreConfig, timeout_s: float, nice: int = NICE) -> None:
        self.cfg, self.timeout_s, self.nice = cfg, timeout_s, nice
        self._proc: Any = None
        self._conn: Connection | None = None
        self._send = threading.Lock()
        self.priority_at_start: int | None = None  # the lane's nice value when it began

    def _start(self) -> Connection:
        ctx = mp.get_context("spawn")  # never fork a process that runs engine threads
        here, there = ctx.Pipe()
        priority = min(19, os.getpriority(os.PRIO_PROCESS, 0) + self.nice)
        proc = ctx.Process(
            target=_child,
            args=(there, self.cfg, self.timeout_s, priority),
            name="evokegraph-query-lane",
            daemon=True,
        )
        proc.start()
        # at once, from here: a spawned child imports the server's modules (~0.6 s of
        # CPU) before its target runs; at the server's priority that start competed
        # with the page requests (it starts under load, at the first user query)
        if proc.pid is not None:
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, proc.pid, priority)
        there.close()
        if not here.poll(START_S):
            proc.kill()
            raise LaneUnavailable("the query process did not start")
        status, why = here.recv()
        if status != "ready":
            proc.join(5)
            raise LaneUnavailable(why)
        self.priority_at_start = why
        self._proc, self._conn = proc, here
        return here

    def run(self, fn: str, args: tuple[Any, ...]) -> Any:
        """``data.<fn>(reader, *args)`` in the lane (started when needed)."""
        conn = self._conn if self._conn is not None and self.alive() else self._start()
        with self._send:
            conn.send(("run", fn, args))
        if not conn.poll(self.timeout_s + GRACE_S):
            self.kill()
            raise query_limits.stopped_error(self.timeout_s)
        try:
            status, value = conn.recv()
        except (EOFError, OSError):
            self.kill()
            raise UserInputError(
                "this query crashed the query engine (its worker process was restarted); "
                "change the query"
            ) from None
        if status == "error":
            raise value
        return value

    def interrupt(self) -> None:
        """Stop the query running in this lane (from another thread)."""
        if self._conn is not None:
            with self._send, contextlib.suppress(OSError):
                self._conn.send(("interrupt",))

    def alive(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    def kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join(5)
        if self._conn is not None:
            self._conn.close()
        self._proc = self._conn = None

    def close(self) -> None:
        if self.alive() and self._conn is not None:
            with self._send, contextlib.suppress(OSError):
                self._conn.send(("stop",))
            self._proc.join(5)
        self.kill()

    def pid(self) -> int | None:
        return int(self._proc.pid) if self.alive() else None


class Lanes:
    """``size`` lanes; :meth:`borrow` waits for a free one (at most the time
    limit) unless :data:`MAX_WAITING` queries already wait."""

    def __init__(self, cfg: StoreConfig, timeout_s: float, size: int | None = None) -> None:
        self.timeout_s = timeout_s
        self.all = [Lane(cfg, timeout_s) for _ in range(max(1, size or LANES))]
        # last in, first out: the lane used last is reused, so a second lane (a
        # process of ~235 MB) starts only when two queries overlap (a FIFO
        # started both for one client's queries one after another)
        self._free: queue.Queue[Lane] = queue.LifoQueue()
        for lane in reversed(self.all):
            self._free.put(lane)
        self._waiting = threading.BoundedSemaphore(MAX_WAITING)

    def borrow(self) -> Lane:
        try:
            return self._free.get_nowait()
        except queue.Empty:
            pass
        if not self._waiting.acquire(blocking=False):
            raise busy(f"{len(self.all)} queries run and {MAX_WAITING} wait")
        try:
            t0 = time.monotonic()
            return self._free.get(timeout=self.timeout_s)
        except queue.Empty:
            raise busy(f"no query finished within {time.monotonic() - t0:.0f} s") from None
        finally:
            self._waiting.release()

    def give_back(self, lane: Lane) -> None:
        self._free.put(lane)

    def close(self) -> None:
        for lane in self.all:
            lane.close()

    def pids(self) -> list[int]:
        return [p for p in (lane.pid() for lane in self.all) if p is not None]


def busy(why: str) -> ExplorerBusyError:
    return ExplorerBusyError(
        f"the explorer is busy with other queries ({why}); try again in a moment"
    )
