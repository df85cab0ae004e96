"""Thumbnails for the image grid: made once with Pillow, cached on disk.

The cache sits next to the knowledge base (``<db>.thumbs/``) and holds one
JPEG per image id (``<id>.jpg``), written atomically (temp file + rename), so
two requests racing for the same thumbnail, or a killed server, never leave a
half-written file. An image whose file cannot be read gets no thumbnail
(``None``); the page shows a placeholder instead.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageOps

from evokegraph.errors import UserInputError

THUMB_SIZE = 256
_ID = re.compile(r"^[0-9a-f]{8,64}$")
# formats the browser may receive as the full picture
MEDIA_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
}


def default_dir(db: str | Path) -> Path:
    return Path(f"{db}.thumbs")


def first_file(uris: Sequence[str]) -> Path | None:
    """The first stored URI that is a readable local file (``file://`` allowed)."""
    for uri in uris:
        p = Path(uri[7:] if uri.startswith("file://") else uri)
        if p.is_file():
            return p
    return None


class ThumbCache:
    """``<dir>/<image id>.jpg``, made on first request."""

    def __init__(self, folder: Path, size: int = THUMB_SIZE) -> None:
        self.folder = Path(folder)
        self.size = size

    def path(self, image_id: str) -> Path:
        if not _ID.match(image_id):  # ids are hex digests: nothing else reaches the disk
            raise UserInputError(
                f"not an image id: {image_id!r}; give the 8-64 hex digits of an image's sha256"
            )
        return self.folder / f"{image_id}.jpg"

    def get(self, image_id: str, uris: Sequence[str]) -> Path | None:
        out = self.path(image_id)
        if out.is_file():
            return out
        src = first_file(uris)
        return self.make(src, out) if src else None

    def make(self, src: Path, out: Path) -> Path | None:
        try:
            with Image.open(src) as im:
                im.seek(0)  # animated: the first frame
                small = ImageOps.exif_transpose(im).convert("RGB")
                small.thumbnail((self.size, self.size))
        except (OSError, ValueError, Image.DecompressionBombError):
            return None
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as fh:
                small.save(fh, "JPEG", quality=82)
            os.replace(tmp, out)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return out
