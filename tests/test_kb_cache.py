"""Per-KB aggregates cached by write version (graph/kb_cache.py): a read after
any write sees the write; the unfiltered grid pages like a sort of every id."""

from __future__ import annotations

from pathlib import Path

from evokegraph.graph import kb_cache
from evokegraph.graph.ladybug_store import LadybugStore
from evokegraph.queries.web import data
from evokegraph.records import Element, Evocation, GraphBatch, ImageEntry, ImageRecord


def _batch(ids: range) -> GraphBatch:
    return GraphBatch(
        images=[
            ImageEntry(
                image=ImageRecord(id=f"{i:064x}", uris=[f"/x/{i}.png"], captions=[f"cap {i}"]),
                elements=[Element(name="dog", concept="dog")],
                evocations=[Evocation(element="dog", concept="loyalty", distance=4, weight=0.5)],
            )
            for i in ids
        ]
    )


def _grid_by_sort(kb: LadybugStore, page: int, per: int) -> tuple[int, list[str]]:
    total = kb.query("MATCH (i:Image) RETURN count(i) AS n")[0]["n"]
    rows = kb.query(
        "MATCH (i:Image) RETURN i.id AS id ORDER BY id SKIP $s LIMIT $l",
        {"s": (page - 1) * per, "l": per},
    )
    return total, [r["id"] for r in rows]


def _grid(kb: LadybugStore, page: int, per: int) -> tuple[int, list[str]]:
    out = data.images(kb, data.GridFilter(page=page, per_page=per))
    return out["total"], [it["id"] for it in out["items"]]


def test_grid_pages_follow_writes(tmp_path: Path) -> None:
    kb_cache.clear()
    with LadybugStore(tmp_path / "k.kb", create=True) as kb:
        kb.write(_batch(range(0, 40, 2)))
        v0 = kb.write_version()
        for page in (1, 2, 3, 4):
            assert _grid(kb, page, 7) == _grid_by_sort(kb, page, 7)
        assert kb.write_version() == v0  # reads do not move it
        kb.write(_batch(range(1, 40, 2)))  # new ids between the old ones
        assert kb.write_version() != v0
        for page in (1, 3, 6):
            assert _grid(kb, page, 7) == _grid_by_sort(kb, page, 7)
        assert kb.delete_image(f"{0:064x}")
        assert _grid(kb, 1, 7) == _grid_by_sort(kb, 1, 7)
    # another handle on the same file (as another process would be) sees it too
    with LadybugStore(tmp_path / "k.kb", read_only=True) as ro:
        assert _grid(ro, 1, 50) == _grid_by_sort(ro, 1, 50)
        assert _grid(ro, 1, 50)[0] == 39


def test_store_without_a_version_is_never_cached() -> None:
    calls: list[int] = []

    def build() -> int:
        calls.append(1)
        return len(calls)

    assert kb_cache.cached(object(), "x", build) == 1
    assert kb_cache.cached(object(), "x", build) == 2
