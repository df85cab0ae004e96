"""Time limits for the queries users write: the explorer, ``cypher``, ``query run``.

Every such query runs on a *reader*: a handle of the open store for one thread
(LadybugDB: its own connection on the shared database, so reads run side by
side; Neo4j: the thread-safe driver) whose queries stop at a time limit
(LadybugDB ``set_query_timeout``; Neo4j a transaction timeout the server
enforces) and which another thread can interrupt (LadybugDB ``interrupt``)
when the query's client goes away. A stopped query raises
:class:`~evokegraph.errors.QueryTimeoutError`: one line saying so.

Stores without readers (test doubles) are used as they are, without a limit.
"""

from __future__ import annotations

import functools
import math
import os
import re
import threading
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, runtime_checkable

from evokegraph.errors import QueryTimeoutError, UserInputError
from evokegraph.graph.protocol import GraphStore

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 30.0
TIMEOUT_ENV = "EVOKEGRAPH_QUERY_TIMEOUT"
# what the engines say when they stop a query: LadybugDB raises RuntimeError
# "Interrupted."; Neo4j's codes Neo.ClientError.Transaction.TransactionTimedOut*
# and ...Transaction.Terminated
_LADYBUG_STOPPED = "interrupted"
_NEO4J_STOPPED = ("transactiontimedout", "transaction.terminated", "transactionterminated")


# LadybugDB 0.22.0 segfaults (the whole process) on an ORDER BY with a SKIP far
# beyond the rows and a LIMIT (14 rows: SKIP 11915 LIMIT 5; 200k rows: SKIP 1e6);
# user Cypher with an ordered SKIP above this is refused before it runs
MAX_ORDERED_SKIP = 10_000
_ORDERED_SKIP = re.compile(r"\bORDER\s+BY\b.*?\bSKIP\s+(\d+)\b.*?\bLIMIT\b", re.I | re.S)


def check_user_cypher(cypher: str) -> None:
    """Refuse user Cypher known to crash the embedded engine, in one line."""
    skip = _too_far_memo(cypher) if len(cypher) <= _MEMO_CHARS else _too_far(cypher)
    if skip is not None:
        raise UserInputError(
            f"SKIP {skip} after ORDER BY with a LIMIT: the embedded engine "
            f"(LadybugDB 0.22) crashes on an ordered SKIP above {MAX_ORDERED_SKIP:,}; "
            "page with a WHERE on the sort key instead"
        )


def _too_far(cypher: str) -> str | None:
    """The first ordered SKIP above :data:`MAX_ORDERED_SKIP` in ``cypher``, or None."""
    for m in _ORDERED_SKIP.finditer(cypher):
        if int(m.group(1)) > MAX_ORDERED_SKIP:
            return m.group(1)
    return None


# the explorer's page queries pass here on every read (~1% of its GIL time):
# texts up to this long are remembered, 256 of them
_MEMO_CHARS = 2000
_too_far_memo = functools.lru_cache(maxsize=256)(_too_far)


@runtime_checkable
class HasReaders(Protocol):
    """A store that hands out limited, interruptible readers."""

    def reader(self, timeout_s: float | None = None, threads: int | None = None) -> GraphStore: ...
    def interrupt(self) -> None: ...


def query_timeout(seconds: float | None = None) -> float:
    """The limit in seconds: ``seconds`` if given, else ``$EVOKEGRAPH_QUERY_TIMEOUT``,
    else 30 s. ``0`` is refused: every user query has a limit."""
    raw: Any = seconds
    where = "--timeout"
    if raw is None:
        raw, where = os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_S), TIMEOUT_ENV
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise UserInputError(
            f"{where} {raw!r} is not a time limit; give seconds > 0 (e.g. {DEFAULT_TIMEOUT_S:g})"
        )
    return value


def is_stopped(exc: BaseException) -> bool:
    """True when ``exc`` is the engine saying it stopped a query (time limit
    or interrupt), not a query error."""
    if type(exc) is RuntimeError:
        return str(exc).strip().lower().startswith(_LADYBUG_STOPPED)
    code = str(getattr(exc, "code", "") or "").lower()
    return any(w in code for w in _NEO4J_STOPPED)


def stopped_error(timeout_s: float | None) -> QueryTimeoutError:
    """The one line a stopped query answers with."""
    if timeout_s:
        return QueryTimeoutError(
            f"query stopped at its time limit of {timeout_s:g} s; narrow it (a LIMIT, a "
            f"WHERE on a key) or raise the limit (--timeout, or {TIMEOUT_ENV})"
        )
    return QueryTimeoutError("query stopped: it was interrupted (its client went away)")


def reader(store: GraphStore, timeout_s: float | None) -> GraphStore:
    """A reader of ``store`` limited to ``timeout_s`` (the store itself when it
    hands out none)."""
    return store.reader(timeout_s) if isinstance(store, HasReaders) else store


def interrupt(store: GraphStore) -> None:
    if isinstance(store, HasReaders):
        store.interrupt()


def run_limited(
    store: GraphStore, fn: Callable[..., T], *args: Any, timeout_s: float | None = None
) -> T:
    """``fn(reader, *args)`` on a reader of ``store`` limited to ``timeout_s``
    (default :func:`query_timeout`), in a worker thread, so that Ctrl-C in the
    calling thread interrupts the query instead of waiting for it."""
    limit = query_timeout(timeout_s)
    r = reader(store, limit)
    out: dict[str, Any] = {}

    def work() -> None:
        try:
            out["value"] = fn(r, *args)
        except BaseException as exc:  # handed to the calling thread below
            out["error"] = exc

    worker = threading.Thread(target=work, name="evokegraph-query", daemon=True)
    try:
        worker.start()
        while worker.is_alive():
            worker.join(0.1)
    except KeyboardInterrupt:
        interrupt(r)
        worker.join(5.0)
        raise
    finally:
        if r is not store and not worker.is_alive():
            r.close()
    if "error" in out:
        err = out["error"]
        if not isinstance(err, QueryTimeoutError) and is_stopped(err):
            raise stopped_error(limit) from None
        raise err
    return out["value"]  # type: ignore[no-any-return]
