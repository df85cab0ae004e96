"""Named queries, analytics and visualizations on a small hand-built graph."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import networkx as nx
import pytest
from PIL import Image

from evokegraph.cli import main
from evokegraph.errors import UserInputError
from evokegraph.graph.ladybug_store import LadybugStore
from evokegraph.queries import analytics, viz
from evokegraph.queries.library import catalogue, get, run
from evokegraph.records import Element, Evocation, GraphBatch, ImageEntry, ImageRecord

A, B, C = "a" * 64, "b" * 64, "c" * 64


def ev(e: str, c: str, d: int, w: float) -> Evocation:
    return Evocation(element=e, concept=c, distance=d, weight=w)


def build(kb: LadybugStore, tmp_path: Path) -> None:
    Image.new("RGB", (30, 20), "red").save(tmp_path / "a.jpg")
    kb.write(
        GraphBatch(
            images=[
                ImageEntry(  # a dog on a beach
                    image=ImageRecord(id=A, uris=[str(tmp_path / "a.jpg")]),
                    elements=[
                        Element(name="dog", concept="dog"),
                        Element(name="beach", concept="beach", rank=1),
                    ],
                    evocations=[
                        ev("dog", "pet", 2, 0.8),
                        ev("dog", "loyalty", 4, 0.6),
                        ev("beach", "holiday", 3, 0.7),
                        ev("beach", "freedom", 5, 0.5),
                    ],
                ),
                ImageEntry(  # a dog in the snow: dog evokes other things here
                    image=ImageRecord(id=B, uris=["b.jpg"]),
                    elements=[
                        Element(name="dog", concept="dog"),
                        Element(name="snow", concept="snow", rank=1),
                    ],
                    evocations=[
                        ev("dog", "sled", 3, 0.9),
                        ev("dog", "loyalty", 4, 0.8),
                        ev("snow", "winter", 2, 0.9),
                        ev("snow", "silence", 5, 0.7),
                    ],
                ),
                ImageEntry(  # a kite in the sky: no literal element shared with A
                    image=ImageRecord(id=C, uris=["c.jpg"]),
                    elements=[Element(name="kite", concept="kite")],
                    evocations=[ev("kite", "wind", 3, 0.6), ev("kite", "freedom", 5, 0.9)],
                ),
            ],
            concepts={"dog": 4.85, "pet": 4.3, "loyalty": 1.57, "freedom": 2.34},
        )
    )
    kb.recompute_associations()


@pytest.fixture
def hand(kb: LadybugStore, tmp_path: Path) -> LadybugStore:
    build(kb, tmp_path)
    return kb


def test_catalogue_is_documented() -> None:
    names = set(catalogue())
    assert names == {
        "evokes",
        "images_evoking",
        "ladder",
        "path",
        "shared",
        "creative_neighbours",
        "context_dependent",
        "cooccurrence",
        "top_concepts",
    }
    for q in catalogue().values():
        assert q.description and q.texts
        for p in q.params:  # every declared parameter is used, every used one declared
            assert f"${p.name}" in q.text("ladybug") and f"${p.name}" in q.text("neo4j")
        used = set(re.findall(r"\$(\w+)", q.text("ladybug")))
        assert used == {p.name for p in q.params}, q.name


def test_every_query_states_its_cost() -> None:
    whole = {q.name for q in catalogue().values() if q.whole_graph}
    assert whole == {"context_dependent", "cooccurrence", "top_concepts"}
    assert all(q.cost for q in catalogue().values())


def test_evokes_across_contexts(hand: LadybugStore) -> None:
    rows = run(hand, "evokes", {"concept": "dog"})
    assert [(r["distance"], r["association"], r["support"]) for r in rows] == [
        (2, "pet", 1),
        (3, "sled", 1),
        (4, "loyalty", 2),
    ]
    assert rows[2]["weight"] == pytest.approx(0.7 * 2 / 3)


def test_images_evoking_and_ladder(hand: LadybugStore) -> None:
    rows = run(hand, "images_evoking", {"concept": "freedom"})
    assert [(r["image"], r["element"], r["distance"]) for r in rows] == [
        (C, "kite", 5),
        (A, "beach", 5),
    ]
    assert run(hand, "images_evoking", {"concept": "loyalty", "min_distance": 5}) == []
    ladder = run(hand, "ladder", {"image": A, "element": "dog"})
    assert [(r["distance"], r["association"], r["concreteness"]) for r in ladder] == [
        (2, "pet", 4.3),
        (4, "loyalty", 1.57),
    ]
    # a weight floor keeps the confident words only (pet 0.8, loyalty 0.6)
    sure = run(hand, "ladder", {"image": A, "element": "dog", "min_weight": 0.7})
    assert [r["association"] for r in sure] == ["pet"]
    assert [
        r["image"] for r in run(hand, "images_evoking", {"concept": "freedom", "min_weight": 0.6})
    ] == [C]
    with pytest.raises(UserInputError, match="min_weight='high' must be a number"):
        run(hand, "ladder", {"image": A, "element": "dog", "min_weight": "high"})


def test_path_shared_and_creative(hand: LadybugStore) -> None:
    (p,) = run(hand, "path", {"source": "pet", "target": "sled"})
    assert p["concepts"] == ["pet", "dog", "sled"] and p["distances"] == [2, 3]
    shared = run(hand, "shared", {"a": A, "b": B})
    assert sorted((r["level"], r["concept"]) for r in shared) == [
        ("abstract", "loyalty"),
        ("literal", "dog"),
    ]
    creative = run(hand, "creative_neighbours", {"image": A})
    assert [(r["image"], r["concepts"]) for r in creative] == [
        (C, ["freedom"])
    ]  # B shares "dog": excluded


def test_context_cooccurrence_top(hand: LadybugStore) -> None:
    rows = run(hand, "context_dependent", {"min_images": 2})
    assert [
        (r["concept"], r["images"], r["distinct_associations"], r["associations"]) for r in rows
    ] == [("dog", 2, 3, 4)]
    pairs = run(hand, "cooccurrence", {})
    assert [(r["concept_a"], r["concept_b"], r["images"]) for r in pairs] == [
        ("beach", "dog", 1),
        ("dog", "snow", 1),
    ]
    top = {
        r["distance"]: (r["concepts"], r["images"])
        for r in run(hand, "top_concepts", {"per_distance": 1})
    }
    assert top[4] == (["loyalty"], [2]) and top[5][1] == [2]


def test_errors_list_what_exists(hand: LadybugStore) -> None:
    with pytest.raises(
        UserInputError, match="unknown query 'nope'; known: context_dependent, cooccurrence"
    ):
        get("nope")
    with pytest.raises(
        UserInputError, match=r"query 'ladder' needs image, element; pass --param image=\.\.\."
    ):
        run(hand, "ladder", {})
    with pytest.raises(
        UserInputError, match="has no parameter colour; its parameters: concept, limit"
    ):
        run(hand, "evokes", {"concept": "dog", "colour": "red"})
    evil = "dog'}) DETACH DELETE n //"
    assert run(hand, "evokes", {"concept": evil}) == []
    assert hand.stats().images == 3


def test_query_cli_formats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "q.kb"
    with LadybugStore(db, create=True) as kb:
        build(kb, tmp_path)
    assert (
        main(["--db", str(db), "query", "run", "evokes", "-p", "concept=dog", "--format", "json"])
        == 0
    )
    assert [r["association"] for r in json.loads(capsys.readouterr().out)] == [
        "pet",
        "sled",
        "loyalty",
    ]
    assert (
        main(["--db", str(db), "query", "run", "evokes", "-p", "concept=dog", "--format", "csv"])
        == 0
    )
    assert capsys.readouterr().out.splitlines()[0] == "distance,association,support,weight"
    assert main(["--db", str(db), "query", "show", "evokes"]) == 0
    assert "MATCH (a:Concept {name: $concept})" in capsys.readouterr().out
    assert main(["--db", str(db), "query", "run", "evokes"]) == 2
    assert "needs concept" in capsys.readouterr().err


def test_analytics(hand: LadybugStore, tmp_path: Path) -> None:
    g = analytics.concept_graph(hand)
    assert g.number_of_edges() == 9 and g["dog"]["loyalty"]["support"] == 2
    top = analytics.pagerank(g, 3)
    assert top[0]["concept"] in {"loyalty", "freedom"}
    comms = analytics.communities(g)
    assert sum(c["size"] for c in comms) == g.number_of_nodes()
    path = analytics.strongest_path(g, "beach", "wind")  # walked both ways
    assert [(s["from"], s["to"]) for s in path] == [
        ("beach", "freedom"),
        ("freedom", "kite"),
        ("kite", "wind"),
    ]
    assert path[-1]["path_weight"] == pytest.approx(0.25 * 0.45 * 0.3)
    ego = analytics.ego_graph(g, "dog", 1)
    assert set(ego) == {"dog", "pet", "sled", "loyalty"}
    for name in ("g.graphml", "g.gexf"):
        analytics.export(g, tmp_path / name)
        back = (
            nx.read_graphml(tmp_path / name)
            if name.endswith("graphml")
            else nx.read_gexf(tmp_path / name)
        )
        assert back.number_of_nodes() == g.number_of_nodes()
    with pytest.raises(UserInputError, match="use a .graphml or .gexf file name"):
        analytics.export(g, tmp_path / "g.png")
    with pytest.raises(UserInputError, match="no associative path between 'pet' and 'wind'"):
        analytics.strongest_path(g, "pet", "wind")


def test_viz_page_is_offline_and_capped(hand: LadybugStore, tmp_path: Path) -> None:
    g = analytics.image_graph(hand, A)
    out, n = viz.render(g, tmp_path / "a.html", title="a", keep={f"image:{A}"})
    page = out.read_text()
    assert n == g.number_of_nodes() == 1 + 2 + 4
    assert not re.search(r"(?:src|href)=\"(?:https?:|//|\.\./)", page)  # nothing external
    assert "data:image/jpeg;base64," in page  # the thumbnail
    assert "eg-legend" in page and "distance 5" in page and "eg-note" not in page
    big = nx.DiGraph()
    for i in range(50):
        big.add_edge("hub", f"c{i}", weight=i / 50, distance=3)
    _, n = viz.render(big, tmp_path / "big.html", title="big", max_nodes=10, keep={"hub"})
    page = (tmp_path / "big.html").read_text()
    assert n == 10 and "41 weaker ones left out" in page and '"c49"' in page and '"c0"' not in page


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(
    CHROMIUM is None, reason="Debian chromium not installed (apt-get install chromium)"
)
def test_viz_draws_in_headless_chromium(hand: LadybugStore, tmp_path: Path) -> None:
    g = analytics.image_graph(hand, A)
    out, n = viz.render(g, tmp_path / "a.html", title="a")
    flags = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=15000",
    ]
    dom = subprocess.run(
        [*flags, "--dump-dom", out.as_uri()], capture_output=True, text=True, timeout=120
    ).stdout
    m = re.search(r'data-drawn-nodes="(\d+)"', dom)
    assert m and int(m.group(1)) == n == 7
    shot = tmp_path / "shot.png"
    subprocess.run(
        [*flags, "--window-size=1000,800", f"--screenshot={shot}", out.as_uri()],
        capture_output=True,
        timeout=120,
        check=False,
    )
    im = Image.open(shot).convert("L")
    lo, hi = im.getextrema()
    assert hi - lo > 100  # not blank
    colours = Image.open(shot).convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 20
