"""The explorer's kept pages (issue 24, the explorer under load): a page is
answered from memory until the knowledge base is written, never after; the
kept bodies stay under their byte bound; errors and user queries are never kept.

Checked to fail: with the version check removed from ``PageCache.get`` the
page after a write still showed the old image count
(``test_a_write_drops_the_kept_pages``); with the eviction loop removed the
bound test kept 40 bodies of 1 KB under a 10 KB bound.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from evokegraph.graph.ladybug_store import LadybugStore, _all_rows
from evokegraph.queries.web.app import create_app
from evokegraph.queries.web.page_cache import PageCache, cacheable
from evokegraph.records import Element, Evocation, GraphBatch, ImageEntry, ImageRecord


def _batch(first: int, n: int) -> GraphBatch:
    """``n`` images, each with the element 'tree' that evokes 'shade' at distance 1."""
    return GraphBatch(
        images=[
            ImageEntry(
                image=ImageRecord(id=f"{i:064x}", uris=[f"img/{i}.jpg"], captions=[f"tree {i}"]),
                elements=[Element(name="tree", concept="tree", rank=0)],
                evocations=[Evocation(element="tree", concept="shade", distance=1, weight=0.5)],
                stage_keys={"elements": "t", "associations": "t"},
            )
            for i in range(first, first + n)
        ]
    )


@pytest.fixture
def kb(tmp_path: Path) -> Iterator[LadybugStore]:
    with LadybugStore(tmp_path / "kb.kb", create=True) as store:
        store.write(_batch(1, 3))
        yield store


@pytest.fixture
def client(kb: LadybugStore, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(store=kb, thumbs_dir=tmp_path / "thumbs")) as c:
        yield c


def _pages(client: TestClient) -> PageCache:
    cache = client.app.state.explorer.pages  # type: ignore[attr-defined]
    assert isinstance(cache, PageCache)
    return cache


def test_a_page_is_kept_until_a_write(client: TestClient) -> None:
    cache = _pages(client)
    first = client.get("/api/concepts/shade")
    assert first.status_code == 200 and first.json()["evoked_by"][0]["total"] == 3
    hits = cache.hits
    again = client.get("/api/concepts/shade")
    assert again.content == first.content and cache.hits == hits + 1
    # the kept answer carries the same headers, security headers included
    assert again.headers["content-type"] == first.headers["content-type"]
    assert "content-security-policy" in again.headers
    html = client.get("/concept/shade")
    assert html.status_code == 200 and client.get("/concept/shade").text == html.text
    assert cache.hits == hits + 2


def test_a_write_drops_the_kept_pages(client: TestClient, kb: LadybugStore) -> None:
    assert client.get("/api/concepts/shade").json()["evoked_by"][0]["total"] == 3
    assert client.get("/api/images").json()["total"] == 3
    kb.write(_batch(4, 2))
    assert client.get("/api/concepts/shade").json()["evoked_by"][0]["total"] == 5
    assert client.get("/api/images").json()["total"] == 5


def test_errors_and_user_queries_are_not_kept(client: TestClient) -> None:
    cache = _pages(client)
    assert client.get("/concept/nothing-here").status_code == 404
    assert client.get("/api/cypher", params={"q": "MATCH (i:Image) RETURN count(i) AS n"}).json()
    assert len(cache) == 0
    assert not cacheable("/api/cypher") and not cacheable("/thumb/ab") and not cacheable("/queries")


def test_kept_bodies_stay_under_the_bound() -> None:
    cache = PageCache(lambda: "v1", max_bytes=10_000)
    cache.get("warm", "v1")
    for i in range(40):
        cache.put(f"/p{i}", "v1", (200, [], b"x" * 1000))
    assert cache.size_bytes <= 10_000 and len(cache) == 10
    assert cache.get("/p39", "v1") is not None and cache.get("/p0", "v1") is None
    cache.put("/big", "v1", (200, [], b"x" * 20_000))  # above the bound: served, not kept
    assert cache.get("/big", "v1") is None


def test_a_page_built_during_a_write_is_not_kept() -> None:
    cache = PageCache(lambda: "v2")
    assert cache.get("/p", "v1") is None  # the request started at v1
    cache.get("/q", "v2")  # another request saw the write land
    cache.put("/p", "v1", (200, [], b"old"))  # built across the write: dropped
    assert cache.get("/p", "v2") is None


def test_a_failure_recorded_later_shows_on_the_image_page(
    client: TestClient, kb: LadybugStore
) -> None:
    """The ids of the images with failures are read once per write version
    (data._failures): a failure written afterwards shows at once."""
    from evokegraph.queries.web import data
    from evokegraph.records import Failure

    image = f"{1:064x}"
    assert data.image(kb, image)["failures"] == []
    assert client.get(f"/api/images/{image}").json()["failures"] == []
    failure = Failure(image_id=image, uri="img/1.jpg", stage="mine", reason="unreadable")
    kb.write(GraphBatch(failures=[failure]))
    assert [f["reason"] for f in data.image(kb, image)["failures"]] == ["unreadable"]
    assert [f["reason"] for f in client.get(f"/api/images/{image}").json()["failures"]] == [
        "unreadable"
    ]
    assert data.image(kb, f"{2:064x}")["failures"] == []


def test_rows_read_from_the_engine_directly_equal_get_all(kb: LadybugStore) -> None:
    """The pages' rows, read from the engine's result without the wrapper's
    per-row checks (H24), are the rows ``get_all`` gives: lists, nulls, no rows,
    a closed result refused as before; and the write version still moves."""
    queries = [
        "MATCH (i:Image) RETURN i.id AS id, i.uris AS uris, i.captions AS c ORDER BY id",
        "MATCH (i:Image) RETURN i.description AS d, i.width AS w ORDER BY i.id",
        "MATCH (i:Image) WHERE i.id = 'none' RETURN i.id AS id",
        "MATCH (e:Element)-[v:EVOKES]->(c:Concept) RETURN e.id AS eid, v.weight AS w, c.name AS n "
        "ORDER BY eid, n",
    ]
    for q in queries:
        res = kb._conn.execute(q)
        cols = res.get_column_names()
        want = [dict(zip(cols, row, strict=True)) for row in res.get_all()]
        assert kb._dicts(q) == want, q
    res = kb._conn.execute(queries[0])
    res.close()
    with pytest.raises(RuntimeError, match="closed"):
        _all_rows(res)
    v0, ident = kb.write_version(), kb.cache_identity()
    kb.write(_batch(10, 1))
    assert kb.write_version() != v0 and kb.cache_identity() == ident == str(kb.path.resolve())
