"""What the store holds of a batch's (or a shard's) images: the one look-up both
executors make before planning.

:func:`look_up` reads the stored records and stage keys of the given images in
one query, and, for each image whose elements are current but whose
associations are stale (:meth:`BatchWork.todo`), its stored description and
elements, so that the association step mines those again (the same in the local
and the Ray executor). The local executor asks per batch of decoded images;
the Ray driver per shard, with the ids its hash step found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from evokegraph.ingest.batchwork import BatchWork, StoredImage
from evokegraph.records import ImageRecord, ImageView, unite
from evokegraph.stage_keys import STAGE_ASSOCIATIONS


class StoredReads(Protocol):
    """The two reads :func:`look_up` needs (every GraphStore has them)."""

    def image_records(
        self, image_ids: Sequence[str]
    ) -> dict[str, tuple[ImageRecord, dict[str, str]]]: ...

    def get_image(self, image_id: str) -> ImageView | None: ...


@dataclass(frozen=True)
class Probe:
    """One image to look up: its id, and the captions and description it comes with."""

    id: str
    captions: Sequence[str] = ()
    description: str = ""


def look_up(store: StoredReads, probes: Sequence[Probe], work: BatchWork) -> dict[str, StoredImage]:
    """The stored images among ``probes``, with stored elements where only the
    associations are stale."""
    stored = store.image_records(sorted({p.id for p in probes}))
    out: dict[str, StoredImage] = {}
    for p in probes:
        found = stored.get(p.id)
        if found is None or p.id in out:
            continue
        record, keys = found
        known = StoredImage(record=record, keys=keys)
        captions = unite(record.captions, p.captions)
        if work.todo(captions, p.description, keys) == STAGE_ASSOCIATIONS:
            view = store.get_image(p.id)
            if view is not None:
                known.description, known.elements = view.image.description, view.elements
        out[p.id] = known
    return out
