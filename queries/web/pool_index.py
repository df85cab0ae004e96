"""The elements of every image, in memory per write version of the KB, for the
concept page's creative pairs (H24, issue 24: the explorer's first visits).

A concept page's creative pairs need the elements of the first images (by id)
that evoke the concept at distance 4 or 5. Read by query
(``data.Q_ABSTRACT_POOL``) that is ~2 ms of LadybugDB a page at 100k images,
the page's dearest read, for ~120 element rows. The images themselves are
already in the page's other read (``data.Q_EVOKED_BY``: every EVOKES edge into
the concept with its image, when under its LIMIT), so what is missing is only
each image's elements: this index holds them for every image, as two arrays
(CSR by the image's node offset in the Image table: 2.8 MB at 100k images,
500k elements).

Loaded once it pays, like the shared network (:mod:`evokegraph.graph.network_index`):
after the pool has been read by query :func:`reads_to_load` times in one write
version (the load reads every HAS_ELEMENT edge: ~0.45 s of CPU at 100k, ~200
pool queries), so a KB being written (an ingest beside the explorer, a new
version every flush) keeps the query. Kept for one write version: after any
write the next page reads by query again, and counts afresh. A store without
a write version or without Arrow reads (Bolt) never loads it.

Exact: the index lists, for each image, ``e.concept`` of every
``(i:Image)-[:HAS_ELEMENT]->(e:Element)``, the pattern ``Q_ABSTRACT_POOL``
collects (its order aside, which creative pairs do not use: they compare sets
and sort); ``tests/test_pool_index.py`` checks pools built both ways on
thousands of concepts. A page uses it only when the KB's version is the
index's before its rows were read and after: node offsets change only with a
write.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import Any

import numpy as np

# every element of every image, by the image's node offset (LadybugDB's offset(ID(i)))
Q_ELEMENTS = "MATCH (i:Image)-[:HAS_ELEMENT]->(e:Element) RETURN offset(ID(i)) AS i, e.concept AS c"
Q_ELEMENT_COUNT = "MATCH (:Image)-[r:HAS_ELEMENT]->(:Element) RETURN count(r) AS n"
ELEMENTS_PER_READ = 2500  # what one pool query costs, in element rows of the load (measured)
KEPT = 4  # indexes of different KBs kept at once (one KB per explorer in practice)


class ElementIndex:
    """Each image's element concepts, by the image's node offset."""

    def __init__(self, offsets: np.ndarray, codes: np.ndarray, names: list[str]) -> None:
        self._offsets = offsets
        self._codes = codes
        self._names = names

    @property
    def nbytes(self) -> int:
        return int(self._offsets.nbytes + self._codes.nbytes)

    def elements(self, image_offset: int) -> list[str]:
        """The image's element concepts (in no particular order)."""
        if not 0 <= image_offset < len(self._offsets) - 1:
            return []
        a, b = self._offsets[image_offset], self._offsets[image_offset + 1]
        names = self._names
        return [names[c] for c in self._codes[a:b].tolist()]


def build(table: Any) -> ElementIndex:
    """The index of ``Q_ELEMENTS``' rows (an Arrow table: ``i`` int64, ``c`` string)."""
    import pyarrow.compute as pc

    img = np.asarray(table.column("i").to_numpy(), dtype=np.int64)
    enc = pc.dictionary_encode(table.column("c")).combine_chunks()
    codes = np.asarray(enc.indices.to_numpy(zero_copy_only=False), dtype=np.int32)
    names = [str(n) for n in enc.dictionary.to_pylist()]
    if len(img) and bool(np.any(img[1:] < img[:-1])):  # the engine gives them in order
        order = np.argsort(img, kind="stable")
        img, codes = img[order], codes[order]
    n = int(img.max()) + 1 if len(img) else 0
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(img, minlength=n), out=offsets[1:])
    return ElementIndex(offsets, codes, names)


class _State:
    def __init__(self) -> None:
        self.version: Hashable | None = None
        self.reads = 0
        self.index: ElementIndex | None = None
        self.loading = False


_LOCK = threading.Lock()
_STATES: dict[str, _State] = {}


def usable(store: Any) -> bool:
    """Whether ``store`` can have an index: an embedded LadybugDB store with a
    write version and Arrow reads."""
    return getattr(store, "backend", "") == "ladybug" and all(
        callable(getattr(store, a, None))
        for a in ("write_version", "cache_identity", "_arrow_rows")
    )


def write_version(store: Any) -> Hashable:
    """The write version of a store :func:`usable` accepted."""
    version: Hashable = store.write_version()
    return version


def _state(ident: str, version: Hashable) -> _State:
    """This KB's state at ``version`` (a new version forgets the index and the count)."""
    st = _STATES.get(ident)
    if st is None:
        st = _STATES[ident] = _State()
        while len(_STATES) > KEPT:
            _STATES.pop(next(iter(_STATES)))
    if st.version != version:
        st.version, st.reads, st.index = version, 0, None
    return st


def reads_to_load(store: Any) -> int:
    """Pool queries in one version after which loading the index pays."""
    from evokegraph.graph import kb_cache

    n = kb_cache.cached(
        store, "HAS_ELEMENT count", lambda: int(store.query(Q_ELEMENT_COUNT)[0]["n"])
    )
    return max(1, int(n) // ELEMENTS_PER_READ)


def index_for(store: Any, version: Hashable) -> ElementIndex | None:
    """The index of ``store`` at ``version`` (its write version when the page's
    rows were read): kept, or loaded now when it pays (by this thread; others
    read by query meanwhile); None while queries are cheaper or the version moved on."""
    if not usable(store) or store.write_version() != version:
        return None  # written since the page's rows were read: the query path
    ident, enough = store.cache_identity(), reads_to_load(store)
    with _LOCK:
        st = _state(ident, version)
        if st.index is not None or st.loading:
            return st.index
        st.reads += 1
        if st.reads <= enough:
            return None
        st.loading = True
    index = None
    try:
        index = build(store._arrow_rows(Q_ELEMENTS))
    finally:
        with _LOCK:
            st.loading = False
            if index is not None and store.write_version() == version == st.version:
                st.index = index
    return st.index if store.write_version() == version else None


def forget() -> None:
    """Drop every index and count (tests)."""
    with _LOCK:
        _STATES.clear()
