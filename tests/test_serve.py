"""`evokegraph serve`: the web explorer over a real knowledge base.

One knowledge base per module: the bundled sample ingested with the offline
backends (caption-text + lexical), template captions at depths 1..5, plus an
image whose file name, captions, elements, associations, caption and failure
are script/HTML payloads. JSON endpoints are checked through FastAPI's test
client; the pages are driven in Debian's chromium through Playwright against
a real uvicorn server on 127.0.0.1.

Set EVOKEGRAPH_SERVE_SCREENSHOT=docs/serve.png to keep the image page's
screenshot (the README's picture).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from PIL import Image, ImageStat
from serving import start

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from evokegraph.graph.ladybug_store import LadybugStore  # noqa: E402
from evokegraph.graph.store import StoreConfig  # noqa: E402
from evokegraph.queries.web.app import create_app, vis_network_file  # noqa: E402
from evokegraph.records import (  # noqa: E402
    Caption,
    Element,
    Evocation,
    Failure,
    GraphBatch,
    ImageEntry,
    ImageRecord,
    PathStep,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
EVIL_FILE = '"><img src=x onerror=alert(1)>.png'
EVIL_ELEMENT = "<b>bold</b>"
EVIL_CONCEPT = "<img src=x onerror=alert(2)>"
EVIL_CAPTION = "<script>alert(3)</script> a red square"
EVIL_GENERATED = "</script><script>alert(4)</script>"
EVIL_REASON = "<svg onload=alert(5)>"


def _add_payloads(kb: LadybugStore, folder: Path) -> str:
    path = folder / EVIL_FILE
    Image.new("RGB", (40, 30), "red").save(path, "PNG")
    image_id = hashlib.sha256(path.read_bytes()).hexdigest()
    step = PathStep(kind="EVOKES", source=EVIL_ELEMENT, target=EVIL_CONCEPT, distance=4, weight=0.9)
    kb.write(
        GraphBatch(
            images=[
                ImageEntry(
                    image=ImageRecord(
                        id=image_id,
                        uris=[str(path)],
                        width=40,
                        height=30,
                        format="PNG",
                        captions=[EVIL_CAPTION],
                    ),
                    elements=[Element(name=EVIL_ELEMENT, concept=EVIL_ELEMENT)],
                    evocations=[
                        Evocation(
                            element=EVIL_ELEMENT, concept=EVIL_CONCEPT, distance=4, weight=0.9
                        )
                    ],
                )
            ],
            captions=[
                Caption(
                    image_id=image_id,
                    text=EVIL_GENERATED,
                    depth=4,
                    realizer="template",
                    path=[step],
                    uses=[EVIL_CONCEPT],
                    weight=0.9,
                )
            ],
            failures=[Failure(image_id=image_id, uri=str(path), stage="mine", reason=EVIL_REASON)],
        )
    )
    kb.recompute_associations()
    return image_id


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The sample knowledge base (+ payloads), closed again: served read-only."""
    from evokegraph.captioning.realizers import REALIZERS
    from evokegraph.captioning.runner import CaptionConfig, Captioner
    from evokegraph.ingest.runner import IngestConfig, ingest
    from evokegraph.ingest.sample import write_sample

    root = tmp_path_factory.mktemp("serve")
    write_sample(root / "sample")
    db = root / "kb.kb"
    with LadybugStore(db, create=True) as kb:
        assert ingest(kb, [root / "sample"], IngestConfig()).new == 14
        Captioner(kb, REALIZERS.create("template"), CaptionConfig()).run()
        evil = _add_payloads(kb, root)
        coffee = hashlib.sha256((root / "sample" / "coffee.jpg").read_bytes()).hexdigest()
    return {"db": db, "evil": evil, "coffee": coffee, "root": root}


@pytest.fixture(scope="module")
def client(site: dict[str, Any]) -> Iterator[TestClient]:
    with TestClient(create_app(StoreConfig(path=str(site["db"])))) as c:
        yield c


# -- JSON endpoints and safety (no browser) ---------------------------------


@pytest.mark.slow
def test_json_endpoints_match_the_knowledge_base(client: TestClient, site: dict[str, Any]) -> None:
    grid = client.get("/api/images", params={"per_page": 10}).json()
    assert grid["total"] == 15 and grid["pages"] == 2 and len(grid["items"]) == 10
    ids = [i["id"] for i in grid["items"]] + [
        i["id"]
        for i in client.get("/api/images", params={"per_page": 10, "page": 2}).json()["items"]
    ]
    assert ids == sorted(ids) and len(set(ids)) == 15
    found = client.get("/api/images", params={"q": "COFFEE"}).json()["items"]
    assert [i["name"] for i in found] == ["coffee.jpg"]
    cups = client.get("/api/images", params={"concept": "cup", "distance": 0}).json()["items"]
    assert site["coffee"] in [i["id"] for i in cups]

    view = client.get(f"/api/images/{site['coffee'][:10]}").json()
    assert view["image"]["id"] == site["coffee"]
    cup = next(r for r in view["ladder"] if r["element"] == "cup")
    assert set(cup["distances"]) == {"1", "2", "3", "4", "5"}
    assert all(a["weight"] > 0 for d in cup["distances"].values() for a in d)
    assert [g["depth"] for g in view["captions"]] == [1, 2, 3, 4, 5]
    first = view["captions"][0]["captions"][0]
    assert first["nodes"][0].startswith("element:") and len(first["nodes"]) == 2

    evoked = cup["distances"]["3"][0]["concept"]
    page = client.get(f"/api/concepts/{quote(evoked)}").json()
    assert page["concept"]["name"] == evoked
    assert any(
        site["coffee"] == i["id"]
        for g in page["evoked_by"]
        if g["distance"] == 3
        for i in g["images"]
    )
    assert client.get("/api/concepts/cup").json()["neighbours_out"]  # cup evokes things
    drawn = client.get("/api/graph", params={"image": site["coffee"]}).json()
    assert f"image:{site['coffee']}" in {n["id"] for n in drawn["nodes"]} and drawn["edges"]
    capped = client.get("/api/graph", params={"concept": "cup", "max_nodes": 3}).json()
    assert len(capped["nodes"]) == 3 and "cup" in {n["id"] for n in capped["nodes"]}

    rows = client.get("/api/queries/images_evoking", params={"concept": evoked}).json()["rows"]
    assert site["coffee"] in [r["image"] for r in rows]
    assert {q["name"] for q in client.get("/api/queries").json()} >= {"evokes", "ladder"}
    schema = client.get("/api/openapi.json").json()
    assert {"/api/images", "/api/images/{image_id}", "/api/concepts/{name}", "/api/graph"} <= set(
        schema["paths"]
    )


@pytest.mark.slow
def test_read_only_and_errors(client: TestClient, site: dict[str, Any]) -> None:
    before = client.get("/api/cypher", params={"q": "MATCH (c:Concept) RETURN count(c) AS n"})
    for q in ("CREATE (:Concept {name: 'x'})", "MATCH (c:Concept) DETACH DELETE c"):
        r = client.get("/api/cypher", params={"q": q})
        assert r.status_code == 400 and "The explorer is read-only" in r.json()["error"]
        assert "The explorer is read-only" in client.get("/cypher", params={"q": q}).text
    after = client.get("/api/cypher", params={"q": "MATCH (c:Concept) RETURN count(c) AS n"})
    assert before.json() == after.json()
    assert client.get("/api/concepts/no-such-concept").status_code == 404
    assert client.get("/image/" + "0" * 64).status_code == 404
    assert client.get("/image/" + "0" * 10).status_code == 400  # unknown prefix: one-line error
    assert client.get("/thumb/..%2f..%2fetc%2fpasswd").status_code == 404
    bad = client.get("/api/queries/ladder", params={"image": site["coffee"]})
    assert bad.status_code == 400 and "needs element" in bad.json()["error"]
    assert client.get("/api/images", params={"distance": 9}).status_code == 422
    assert client.post("/api/cypher").status_code == 405


@pytest.mark.slow
def test_thumbnails_cached_once_next_to_the_kb(client: TestClient, site: dict[str, Any]) -> None:
    cache = Path(f"{site['db']}.thumbs") / f"{site['coffee']}.jpg"
    r = client.get(f"/thumb/{site['coffee']}")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg" and cache.is_file()
    with Image.open(cache) as im:
        assert max(im.size) == 256
    stamp = cache.stat().st_mtime_ns
    assert client.get(f"/thumb/{site['coffee']}").content == cache.read_bytes()
    assert cache.stat().st_mtime_ns == stamp  # served from the cache, not made again


@pytest.mark.slow
def test_pages_load_nothing_external(client: TestClient, site: dict[str, Any]) -> None:
    vis = client.get("/vendor/vis-network.min.js")
    assert vis.status_code == 200 and vis.content == vis_network_file().read_bytes()
    assert "site-packages/pyvis" in str(vis_network_file()) or "pyvis" in str(vis_network_file())
    for url in (
        "/images",
        f"/image/{site['coffee']}",
        "/concept/cup",
        "/queries",
        "/graph?concept=cup",
    ):
        r = client.get(url)
        assert r.status_code == 200
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert not re.search(r"(?:src|href)=\"(?:https?:)?//", r.text), url


def test_serve_binds_loopback_by_default() -> None:
    import inspect

    from evokegraph.queries.web.cli import _loopback, serve_cmd

    assert inspect.signature(serve_cmd).parameters["host"].default == "127.0.0.1"
    assert _loopback("127.0.0.1") and _loopback("localhost") and not _loopback("0.0.0.0")


def test_serve_with_a_bad_db_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from evokegraph.cli import main

    assert main(["--db", str(tmp_path / "none.kb"), "serve", "--port", "0"]) == 1
    assert "no knowledge base at" in capsys.readouterr().err


# -- the browser ------------------------------------------------------------

browser_only = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian chromium not installed (apt-get install chromium)"
)


@pytest.fixture(scope="module")
def server(site: dict[str, Any]) -> Iterator[str]:
    app = create_app(StoreConfig(path=str(site["db"])))
    srv, thread, port = start(app)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[Any]:
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@contextmanager
def _new_page(browser: Any, bypass_csp: bool) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=bypass_csp)
    pg = ctx.new_page()
    pg.dialogs = []  # every alert() a payload might raise
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.set_default_timeout(20_000)
    try:
        yield pg
    finally:
        ctx.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    with _new_page(browser, bypass_csp=False) as pg:
        yield pg


@pytest.fixture
def page_no_csp(browser: Any) -> Iterator[Any]:
    """The Content-Security-Policy turned off: escaping alone must hold."""
    with _new_page(browser, bypass_csp=True) as pg:
        yield pg


def _shot(page: Any, out: Path, full_page: bool = False) -> Path:
    page.screenshot(path=str(out), full_page=full_page)
    with Image.open(out) as im:
        stat = ImageStat.Stat(im.convert("L"))
        assert stat.var[0] > 100, f"{out.name} looks blank (variance {stat.var[0]:.0f})"
        assert len(im.convert("RGB").getcolors(1 << 20) or []) > 50, f"{out.name}: few colours"
    return out


def _drawn(page: Any) -> int:
    page.wait_for_selector("body[data-drawn-nodes]", state="attached", timeout=30_000)
    return int(page.get_attribute("body", "data-drawn-nodes"))


@browser_only
@pytest.mark.slow
def test_browse_in_chromium(page: Any, server: str, site: dict[str, Any], tmp_path: Path) -> None:
    page.goto(f"{server}/images")
    assert page.locator("#grid a.card").count() == 15
    loaded = "Array.from(document.querySelectorAll('#grid img')).every(i => i.complete && i.naturalWidth > 0)"
    deadline = time.monotonic() + 30
    while not page.evaluate(loaded):  # evaluate, not wait_for_function: the CSP forbids eval
        assert time.monotonic() < deadline, "thumbnails did not load"
        time.sleep(0.1)
    _shot(page, tmp_path / "grid.png")

    page.locator("#grid a.card", has_text="coffee.jpg").click()
    page.wait_for_url(f"**/image/{site['coffee']}")
    assert page.locator("#ladder tbody tr").count() >= 3
    assert _drawn(page) > 5
    page.locator(".caption").first.click()
    assert int(page.get_attribute("#graph", "data-highlighted")) == 2  # element + association
    page.evaluate("window.scrollTo(0, 0)")
    shot = _shot(page, tmp_path / "image.png", full_page=True)
    if os.environ.get("EVOKEGRAPH_SERVE_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["EVOKEGRAPH_SERVE_SCREENSHOT"])

    link = page.locator("#ladder td a.concept").first
    concept = link.inner_text()
    link.click()
    page.wait_for_url("**/concept/**")
    assert page.locator("#concept-name").inner_text().startswith(concept)
    assert page.locator(f".grid a.card[href='/image/{site['coffee']}']").count() >= 1
    _shot(page, tmp_path / "concept.png")

    page.goto(f"{server}/queries")
    form = page.locator("#q-images_evoking")
    form.locator("input[name=concept]").fill(concept)
    form.locator("button").click()
    page.wait_for_selector("#result")
    assert page.locator(f"#result a[href='/image/{site['coffee']}']").count() >= 1
    _shot(page, tmp_path / "queries.png")

    page.goto(f"{server}/graph?concept=cup")
    assert _drawn(page) > 2
    _shot(page, tmp_path / "graph.png")

    page.goto(f"{server}/cypher")
    page.fill("textarea[name=q]", "MATCH (c:Concept) DETACH DELETE c")
    page.click("#cypher-form button")
    assert "The explorer is read-only" in page.locator("#error").inner_text()
    assert page.dialogs == []


@browser_only
@pytest.mark.slow
def test_stored_payloads_never_run(page_no_csp: Any, server: str, site: dict[str, Any]) -> None:
    evil = site["evil"]
    pages = {  # url -> a payload that must show as text there
        "/images?q=" + quote("red square"): EVIL_CAPTION,
        f"/image/{evil}": EVIL_GENERATED,
        f"/concept/{quote(EVIL_CONCEPT, safe='')}": EVIL_CONCEPT,
        f"/concept/{quote(EVIL_ELEMENT, safe='')}": EVIL_CONCEPT,
        f"/queries/images_evoking?concept={quote(EVIL_CONCEPT, safe='')}&run=1": EVIL_FILE[:8],
        "/cypher?q=" + quote("MATCH (c:Caption) RETURN c.text AS text"): EVIL_GENERATED,
        "/cypher?q=" + quote("MATCH (f:Failure) RETURN f.reason AS reason"): EVIL_REASON,
        f"/graph?image={evil}": "",
        f"/graph?concept={quote(EVIL_CONCEPT, safe='')}": "",
    }
    for url, shown in pages.items():
        page_no_csp.goto(server + url)
        if url.startswith(("/graph", "/image/")):
            assert _drawn(page_no_csp) >= 2, url
        assert shown in page_no_csp.locator("main").inner_text(), url  # the payload arrives as text
        # ... and never as markup: no element it would create exists, no inline script
        assert page_no_csp.locator("img[src='x'], svg[onload], main b").count() == 0, url
        inline = page_no_csp.evaluate(
            "Array.from(document.scripts).filter(s => !s.src && s.type !== 'application/json').length"
        )
        assert inline == 0, url
    page_no_csp.goto(f"{server}/image/{evil}")
    assert EVIL_REASON in page_no_csp.locator("#failures").inner_text()
    _drawn(page_no_csp)
    page_no_csp.locator(".caption").first.click()  # the payload caption's path is highlighted
    assert int(page_no_csp.get_attribute("#graph", "data-highlighted")) == 2
    assert page_no_csp.dialogs == []
    assert page_no_csp.evaluate("typeof window.__xss") == "undefined"
