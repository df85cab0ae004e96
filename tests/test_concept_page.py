"""The explorer's concept page lists images at every distance that has some,
however many evoke the concept at a nearer one (issue 24 review: one shared
LIMIT of 480 rows, ordered by distance, left distances 2-5 empty on a concept
with 480+ evocations at distance 1 while their totals said otherwise).
Checked to fail: without the per-distance read the distance-2 group was empty."""

from __future__ import annotations

from pathlib import Path

from evokegraph.graph.ladybug_store import LadybugStore
from evokegraph.queries.web import data
from evokegraph.records import Element, Evocation, GraphBatch, ImageEntry, ImageRecord


def _image(i: int, distance: int) -> ImageEntry:
    return ImageEntry(
        image=ImageRecord(id=f"{i:064x}", uris=[f"img/{i}.jpg"]),
        elements=[Element(name="tree", concept="tree", rank=0)],
        evocations=[Evocation(element="tree", concept="shade", distance=distance, weight=0.5)],
        stage_keys={"elements": "t", "associations": "t"},
    )


def test_every_distance_shows_images(tmp_path: Path) -> None:
    near = data.PER_DISTANCE * len(data.DISTANCES) * 4 + 20  # more than the shared LIMIT
    with LadybugStore(tmp_path / "kb.kb", create=True) as kb:
        kb.write(GraphBatch(images=[_image(i, 1) for i in range(near)]))
        kb.write(GraphBatch(images=[_image(near + i, 2) for i in range(3)]))
        page = data.concept(kb, "shade")
    groups = {g["distance"]: g for g in page["evoked_by"]}
    assert groups[1]["total"] == near and len(groups[1]["images"]) == data.PER_DISTANCE
    assert groups[2]["total"] == 3
    assert [c["id"] for c in groups[2]["images"]] == [f"{near + i:064x}" for i in range(3)]


def test_totals_without_the_count_query(tmp_path: Path) -> None:
    """Under the LIMIT the totals come from the rows read for the cards (H24):
    the same as counting the concept's EVOKES edges."""
    with LadybugStore(tmp_path / "kb.kb", create=True) as kb:
        kb.write(GraphBatch(images=[_image(i, 1 + i % 5) for i in range(37)]))
        page = data.concept(kb, "shade")
        counted = {r["distance"]: r["n"] for r in kb.query(data.Q_EVOKED_COUNTS, {"n": "shade"})}
    assert {g["distance"]: g["total"] for g in page["evoked_by"]} == counted
    assert counted == {1: 8, 2: 8, 3: 7, 4: 7, 5: 7}


class _Pool:
    """A store double answering Q_ABSTRACT_POOL with the first ``limit`` images."""

    def __init__(self, pool: list[dict[str, object]]) -> None:
        self.pool = pool
        self.limits: list[int] = []

    def query(self, cypher: str, params: dict[str, object]) -> list[dict[str, object]]:
        assert cypher == data.Q_ABSTRACT_POOL
        limit = params["limit"]
        assert isinstance(limit, int)
        self.limits.append(limit)
        return self.pool[:limit]


def _all_pairs(pool: list[dict[str, object]]) -> list[tuple[object, object]]:
    """What the whole pool gives: its first CREATIVE_PAIRS disjoint pairs, in order."""
    out = []
    for i, a in enumerate(pool[: data.CREATIVE_POOL]):
        for b in pool[i + 1 : data.CREATIVE_POOL]:
            if not set(a["elements"]) & set(b["elements"]):  # type: ignore[call-overload]
                out.append((a["image"], b["image"]))
    return out[: data.CREATIVE_PAIRS]


def test_creative_pairs_read_first_few_images_when_they_suffice() -> None:
    """Creative pairs read the first FIRST_POOL images and stop there only when
    the whole pool would give the same pairs (H24): pools of 0-230 images over
    vocabularies from 3 words (most pairs share one) to 5,000 (almost none)."""
    import random

    rng = random.Random(0)
    short = 0
    for case in range(300):
        vocab = [f"w{k}" for k in range(rng.choice([3, 6, 12, 40, 5000]))]
        n = rng.choice([0, 1, 2, 20, 23, 24, 25, 40, 230])
        pool: list[dict[str, object]] = [
            {"image": f"{case:04d}{i:060x}", "uris": [f"{i}.jpg"], "elements": rng.sample(vocab, 2)}
            for i in range(n)
        ]
        kb = _Pool(pool)
        got = [(p["a"]["id"], p["b"]["id"]) for p in data.creative_pairs(kb, "x")]  # type: ignore[arg-type]
        assert got == _all_pairs(pool), (case, n, len(vocab))
        short += kb.limits == [data.FIRST_POOL]
    assert 20 < short < 300  # both ways taken


def test_card_names_as_path_gives_them() -> None:
    """A card's name is ``Path(uri).name`` (H24: computed without a Path)."""
    uris = ["a/b.jpg", "b.jpg", "", "/", "a/b/", "a/.", "a/..", ".", "a//b", "s3://x/y z.png"]
    uris += ["http://h/p?q=1/2", "a\\b.jpg", "a/b/./", "~/p.jpg", "//", "x/\x00y"]
    for u in uris:
        assert data._name([u]) == Path(u).name, u
    assert data._name(None) == data._name([]) == ""
