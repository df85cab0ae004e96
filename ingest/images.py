"""Loading one source image for ingestion, never fatally.

:func:`load_image` returns an :class:`~evokegraph.ingest.stages.ImageItem`
(record + decoded RGB image, upright) or raises :class:`ImageError` with a
one-line reason; the runner records the reason and goes on. Decoding itself
is :mod:`evokegraph.images`, shared with captioning.
"""

from __future__ import annotations

from pathlib import Path

from evokegraph.images import DecodeOptions, decode, read_bytes, sha256_bytes
from evokegraph.ingest.stages import ImageItem
from evokegraph.records import ImageRecord

_DECODE = DecodeOptions()


def load_image(
    path: Path,
    *,
    uri: str | None = None,
    captions: list[str] | None = None,
    split: str = "",
    options: DecodeOptions = _DECODE,
    description: str = "",
) -> ImageItem:
    """Read, hash, decode and validate one image file."""
    data = read_bytes(path)
    image_id = sha256_bytes(data)
    im, fmt = decode(data, options)
    record = ImageRecord(
        id=image_id,
        uris=[uri or str(path)],
        width=im.width,
        height=im.height,
        format=fmt,
        split=split,
        captions=[c for c in (captions or []) if c.strip()],
        description=description,
    )
    return ImageItem(record=record, path=path, image=im if options.keep_pixels else None)
