"""Per-knowledge-base aggregates cached in the process, keyed by the KB's write version.

Some reads need an aggregate of the whole KB that changes only when the KB is
written (the image ids in order, for paging the grid). Such an aggregate is
built once per *write version* of the KB and kept: the next read after any
write (by this process or another) builds it again, so what it returns is
always what a fresh query would return.

A store takes part by answering ``write_version()`` with a value that changes
on every committed write (:meth:`LadybugStore.write_version`); a store without
one (a server backend) is never cached: every call builds afresh.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar, cast

T = TypeVar("T")

_LOCK = threading.Lock()
# (store identity, aggregate name) -> (write version, value)
_CACHE: dict[tuple[Hashable, str], tuple[Hashable, Any]] = {}
MAX_ENTRIES = 16  # a few KBs x a few aggregates; the oldest goes first


def _key_and_version(store: object) -> tuple[Hashable, Hashable] | None:
    version = getattr(store, "write_version", None)
    ident = getattr(store, "cache_identity", None)
    if version is None or ident is None:
        return None
    return ident(), version()


def cached(store: object, name: str, build: Callable[[], T]) -> T:
    """``build()``'s value for ``store`` at its current write version (built
    again after any write; always built when the store has no version)."""
    kv = _key_and_version(store)
    if kv is None:
        return build()
    ident, version = kv
    with _LOCK:
        hit = _CACHE.get((ident, name))
    if hit is not None and hit[0] == version:
        return cast(T, hit[1])
    value = build()
    if _key_and_version(store) != kv:  # written while building: do not keep it
        return value
    with _LOCK:
        _CACHE.pop((ident, name), None)
        _CACHE[(ident, name)] = (version, value)
        while len(_CACHE) > MAX_ENTRIES:
            _CACHE.pop(next(iter(_CACHE)))
    return value


def peek(store: object, name: str) -> Any:
    """The value kept for ``store`` at its current write version, or None."""
    kv = _key_and_version(store)
    if kv is None:
        return None
    with _LOCK:
        hit = _CACHE.get((kv[0], name))
    return hit[1] if hit is not None and hit[0] == kv[1] else None


def clear() -> None:
    """Forget every cached aggregate (tests)."""
    with _LOCK:
        _CACHE.clear()
