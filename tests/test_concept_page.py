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
