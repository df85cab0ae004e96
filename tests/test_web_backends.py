"""The explorer and the named queries on both backends: LadybugDB and a live
Bolt server (ArcadeDB from the ``server`` extra, or the Neo4j that
EVOKEGRAPH_NEO4J_URI names).

One knowledge base per backend, built the same way: the bundled sample
photos and captions, elements and associations from two small test stages
(content words of the first caption; associations drawn from fixed word
lists, so concepts are shared between images and the shared network is not
empty), template captions at depths 1-5 and 7. The same page data must come
out of both stores; then Debian's Chromium drives every page on each backend
through Playwright against a real uvicorn server: the grid, the word search,
the image page (colour key present; a clicked caption's path inside the
viewport), the rings view, a concept page, a query form and the Cypher box.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from PIL import Image, ImageStat
from serving import start

pytest.importorskip("fastapi")

from evokegraph.graph.store import GraphStore, StoreConfig, open_store  # noqa: E402
from evokegraph.ingest.stages import EXTRACTORS, MINERS, Extraction, ImageItem, MiningInput  # noqa: E402
from evokegraph.queries.library import catalogue, run  # noqa: E402
from evokegraph.queries.web import data, graph, rings  # noqa: E402
from evokegraph.records import Element, Evocation  # noqa: E402
from evokegraph.runs import Failed  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "in",
        "on",
        "at",
        "to",
        "and",
        "with",
        "by",
        "for",
        "from",
        "its",
        "his",
        "her",
        "their",
        "is",
        "are",
    ]
)
THEMES = {
    1: ["object", "item", "piece"],
    2: ["tool", "food", "animal", "vehicle"],
    3: ["kitchen", "street", "park", "home", "sky"],
    4: ["work", "play", "memory", "travel"],
    5: ["calm", "joy", "freedom"],
}


class ContentWords:
    """Test extractor: the first caption's content words, in order, at most 5."""

    name = "web-test-words"

    def settings(self) -> dict[str, Any]:
        return {"v": 1}

    def extract(self, items: Sequence[ImageItem]) -> list[Extraction | Failed]:
        out: list[Extraction | Failed] = []
        for it in items:
            if not it.record.captions:
                out.append(Failed("no caption"))
                continue
            words = [w.strip(".,").lower() for w in it.record.captions[0].split()]
            keep = list(dict.fromkeys(w for w in words if w.isalpha() and w not in STOP))[:5]
            elements = [Element(name=w, concept=w, rank=i) for i, w in enumerate(keep)]
            out.append(Extraction(description=it.record.captions[0], elements=elements))
        return out


class ThemeMiner:
    """Test miner: two words per distance from fixed lists, chosen by a stable
    hash of the element, so images share concepts."""

    name = "web-test-themes"

    def settings(self) -> dict[str, Any]:
        return {"v": 1}

    def mine(self, items: Sequence[MiningInput]) -> list[list[Evocation] | Failed]:
        out: list[list[Evocation] | Failed] = []
        for it in items:
            rows = []
            for e in it.elements:
                h = zlib.crc32(e.concept.encode())
                for d, words in THEMES.items():
                    for j in range(2):
                        concept = words[(h + j) % len(words)]
                        if concept != e.concept:
                            w = round(0.95 - d / 10 - j * 0.05, 3)
                            rows.append(
                                Evocation(element=e.concept, concept=concept, distance=d, weight=w)
                            )
            out.append(rows)
        return out


@pytest.fixture(scope="module", autouse=True)
def _fake_stages() -> Iterator[None]:
    """The two fakes above, registered for this module's tests only (removed after)."""
    with (
        EXTRACTORS.registered(ContentWords.name, ContentWords),
        MINERS.registered(ThemeMiner.name, ThemeMiner),
    ):
        yield


def _build(kb: GraphStore, sample: Path) -> None:
    from evokegraph.captioning.realizers import REALIZERS
    from evokegraph.captioning.runner import CaptionConfig, Captioner
    from evokegraph.ingest.runner import IngestConfig, ingest

    summary = ingest(kb, [sample], IngestConfig(extractor=ContentWords.name, miner=ThemeMiner.name))
    assert summary.new == 14
    Captioner(kb, REALIZERS.create("template"), CaptionConfig(depths=[1, 2, 3, 4, 5, 7])).run()


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from evokegraph.ingest.sample import write_sample

    root = tmp_path_factory.mktemp("web-backends") / "sample"
    write_sample(root)
    return root


@pytest.fixture(scope="module")
def configs(sample: Path, request: pytest.FixtureRequest) -> dict[str, StoreConfig]:
    """Both knowledge bases, built and closed: backend -> StoreConfig."""
    from evokegraph.graph.neo4j_store import Neo4jStore

    lady = StoreConfig(backend="ladybug", path=str(sample.parent / "kb.kb"))
    with open_store(lady.replace(create=True)) as kb:
        _build(kb, sample)
    cfg = request.getfixturevalue("bolt_server")
    neo = StoreConfig(backend="neo4j", uri=cfg["uri"], user=cfg["user"], password=cfg["password"])
    kb = Neo4jStore.connect(cfg["uri"], cfg["user"], cfg["password"], create=True)
    try:
        kb.wipe()  # a throwaway database: the test server's, or the one the env names
        kb.ensure_schema()
        _build(kb, sample)
    finally:
        kb.close()
    return {"ladybug": lady, "neo4j": neo}


@pytest.fixture(scope="module")
def stores(configs: dict[str, StoreConfig]) -> Iterator[dict[str, GraphStore]]:
    opened = {name: open_store(c.replace(read_only=True)) for name, c in configs.items()}
    try:
        yield opened
    finally:
        for s in opened.values():
            s.close()


def _coffee(kb: GraphStore, sample: Path) -> str:
    return data.image_id_of(kb, str(sample / "coffee.jpg"))


def _same(a: Any, b: Any, unordered: bool = False) -> Any:
    """JSON-normal form: floats rounded (the engines sum in different orders);
    ``unordered``: lists of names sorted (a named query's collect() order)."""
    if isinstance(a, float):
        return round(a, 6)
    if isinstance(a, dict):
        return {k: _same(v, None, unordered) for k, v in sorted(a.items())}
    if isinstance(a, list | tuple):
        if a and all(isinstance(v, str) for v in a) and unordered:
            return sorted(a)  # collect() order is the engine's own
        return [_same(v, None, unordered) for v in a]
    return a


def _params(name: str, kb: GraphStore, sample: Path) -> dict[str, Any]:
    coffee = _coffee(kb, sample)
    other = data.image_id_of(kb, str(sample / "chelsea.jpg"))
    given = {
        "concept": "kitchen",
        "image": coffee,
        "element": "cup",
        "a": coffee,
        "b": other,
        "source": "kitchen",
        "target": "joy",
        "min_distance": 3,
        "limit": 20,
        "min_images": 1,
    }
    if name == "evokes":
        given["concept"] = "cup"  # an element: what it evokes across images
    return {p.name: given[p.name] for p in catalogue()[name].params if p.name in given}


UNORDERED = {"shared", "path"}  # UNION rows; one of several shortest paths


@pytest.mark.slow
def test_named_queries_answer_the_same_on_both_backends(
    stores: dict[str, GraphStore], sample: Path
) -> None:
    for name in sorted(catalogue()):
        answers = {}
        for backend, kb in stores.items():
            rows = run(kb, name, _params(name, kb, sample))
            assert rows, f"{name} on {backend}: no rows"
            answers[backend] = _same(rows, None, unordered=True)
        lady, neo = answers["ladybug"], answers["neo4j"]
        if name == "path":  # same length; the path itself may be another of the shortest
            assert [len(r["concepts"]) for r in lady] == [len(r["concepts"]) for r in neo]
        elif name in UNORDERED:
            assert sorted(map(json.dumps, lady)) == sorted(map(json.dumps, neo)), name
        else:
            assert lady == neo, name


@pytest.mark.slow
def test_explorer_pages_hold_the_same_data_on_both_backends(
    stores: dict[str, GraphStore], sample: Path
) -> None:
    seen: dict[str, list[Any]] = {}
    for backend, kb in stores.items():
        coffee = _coffee(kb, sample)
        view = data.image_view(kb, coffee)
        pages = [
            data.images(kb, data.GridFilter(per_page=5, page=2)),
            data.images(kb, data.GridFilter(q="cups")),
            data.images(kb, data.GridFilter(q="coffee", concept="kitchen")),
            data.images(kb, data.GridFilter(concept="cup", distance=0)),
            data.images(kb, data.GridFilter(concept="kitchen", distance=3)),
            data.image(kb, view),
            rings.rings(view),
            graph.to_vis(graph.image_graph(kb, coffee, view)),
            graph.to_vis(graph.concept_graph(kb, "kitchen", 2)),
            data.concept(kb, "kitchen"),
            data.run_named(kb, "images_evoking", {"concept": "Kitchen", "min_distance": "3"}),
            data.cypher(kb, "MATCH (c:Concept) RETURN count(c) AS n"),
        ]
        seen[backend] = [_same(p, None) for p in pages]
        assert [i["name"] for i in pages[1]["items"]] == ["coffee.jpg"]  # "cups" -> "cup"
        assert pages[0]["total"] == 14 and len(pages[0]["items"]) == 5
        assert pages[6]["elements"] >= 3 and pages[6]["associations"] >= 15
        with pytest.raises(data.UserInputError, match="The explorer is read-only"):
            data.cypher(kb, "MATCH (c:Concept) DETACH DELETE c")
        with pytest.raises(data.UserInputError, match="This store speaks"):
            data.cypher(kb, "MATCHX (n) RETURN n")
    for i, (a, b) in enumerate(zip(seen["ladybug"], seen["neo4j"], strict=True)):
        if isinstance(a, dict):
            a.pop("stage_keys", None), b.pop("stage_keys", None)
            for key in ("image",):
                if isinstance(a.get(key), dict):
                    a[key].pop("stage_keys", None), b[key].pop("stage_keys", None)
        assert a == b, f"page {i} differs between the backends"


# -- the browser, on each backend --------------------------------------------


@pytest.fixture(scope="module", params=["ladybug", "neo4j"])
def served(
    request: pytest.FixtureRequest,
    configs: dict[str, StoreConfig],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, str]]:
    """(backend, base URL) of a uvicorn server over that backend's knowledge base."""

    from evokegraph.queries.web.app import create_app

    backend = request.param
    thumbs = tmp_path_factory.mktemp(f"thumbs-{backend}")
    app = create_app(configs[backend], thumbs_dir=thumbs)
    srv, thread, port = start(app)
    try:
        yield backend, f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium not installed (apt-get install chromium)")
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            yield b
        finally:
            b.close()


def _shot(page: Any, out: Path, full_page: bool = False) -> Path:
    page.screenshot(path=str(out), full_page=full_page)
    with Image.open(out) as im:
        assert ImageStat.Stat(im.convert("L")).var[0] > 100, f"{out.name} looks blank"
        assert len(im.convert("RGB").getcolors(1 << 20) or []) > 50, f"{out.name}: few colours"
    return out


def _inside(points: list[dict[str, float]], box: dict[str, float], view: dict[str, int]) -> bool:
    return all(
        box["x"] <= p["x"] <= box["x"] + box["width"]
        and box["y"] <= p["y"] <= box["y"] + box["height"]
        and 0 <= p["x"] <= view["width"]
        and 0 <= p["y"] <= view["height"]
        for p in points
    )


@pytest.mark.slow
def test_every_page_in_chromium(
    served: tuple[str, str], chromium: Any, sample: Path, tmp_path: Path
) -> None:
    backend, base = served
    viewport = {"width": 1280, "height": 900}
    ctx = chromium.new_context(viewport=viewport)
    page = ctx.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(f"{base}/images")
        assert page.locator("#grid a.card").count() == 14
        _shot(page, tmp_path / f"grid-{backend}.png")

        page.fill("#search input[name=q]", "cups")  # the one search box: whole words, lemmas
        page.press("#search input[name=q]", "Enter")
        page.wait_for_url("**/images?q=cups")
        assert [t.strip() for t in page.locator("#grid a.card .name").all_inner_texts()] == [
            "coffee.jpg"
        ]
        assert page.locator("input[name=q]:not([type=hidden])").count() == 1  # one search box

        page.locator("#grid a.card").first.click()
        page.wait_for_url("**/image/**")
        page.wait_for_selector("body[data-drawn-nodes]", state="attached")
        legend = page.locator("#legend li[data-distance]")
        assert legend.count() >= 5 and "near synonym" in legend.first.inner_text()
        assert float(page.get_attribute("#graph", "data-label-px") or 0) >= 12
        assert "miner's score" in page.locator("#weight-key").inner_text()
        deepest = page.locator(".caption").last  # the depth-7 caption, far down the page
        deepest.scroll_into_view_if_needed()
        deepest.click()
        assert int(page.get_attribute("#graph", "data-highlighted") or 0) >= 3
        points = json.loads(page.get_attribute("#graph", "data-path-points") or "[]")
        box = page.locator("#graph").bounding_box()
        assert points and box and _inside(points, box, viewport), (points, box)
        _shot(page, tmp_path / f"image-{backend}.png")

        page.click("#rings-link")
        page.wait_for_url("**/rings")
        svg = page.locator("svg#rings")
        assert int(svg.get_attribute("data-associations") or 0) >= 15
        assert page.locator("svg#rings a.node.element").count() >= 3
        _shot(page, tmp_path / f"rings-{backend}.png", full_page=True)
        word = page.locator("svg#rings a.node.association[data-distance='3']").first
        name = word.get_attribute("data-name")
        word.click()
        page.wait_for_url(f"**/concept/{quote(name or '', safe='')}")
        assert page.locator("#concept-name").inner_text().startswith(name or "?")
        _shot(page, tmp_path / f"concept-{backend}.png")

        page.goto(f"{base}/queries")
        form = page.locator("#q-images_evoking")
        form.locator("input[name=concept]").fill(name or "")
        form.locator("button").click()
        page.wait_for_selector("#result")
        assert page.locator("#result a.image-link").count() >= 1
        _shot(page, tmp_path / f"queries-{backend}.png")

        page.goto(f"{base}/cypher")
        page.fill("textarea[name=q]", "MATCH (c:Concept) DETACH DELETE c")
        page.click("#cypher-form button")
        assert "The explorer is read-only" in page.locator("#error").inner_text()
    finally:
        ctx.close()
