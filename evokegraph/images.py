"""Reading and decoding image files (Pillow), the one way every stage does it.

:func:`read_bytes` and :func:`decode` give the bytes and the upright RGB image
of a file or raise :class:`~evokegraph.errors.ImageError` with a one-line
reason (unsupported format, decompression bomb, truncated file...). Ingest
(:func:`evokegraph.ingest.images.load_image`) and captioning (pixels for the
VLM realizer) decode through here, so a picture looks the same to every model.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from evokegraph.errors import ImageError

SUPPORTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO"})
DEFAULT_MAX_PIXELS = 64_000_000  # well above a 50 MP camera, far below a bomb


@dataclass(frozen=True)
class DecodeOptions:
    max_pixels: int = DEFAULT_MAX_PIXELS
    keep_pixels: bool = True  # keep the decoded image for model stages


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImageError("file not found") from None
    except IsADirectoryError:
        raise ImageError("is a directory, not an image file") from None
    except PermissionError:
        raise ImageError("permission denied; make the file readable") from None
    except OSError as exc:
        raise ImageError(f"cannot read file: {exc.strerror or exc}") from None
    if not data:
        raise ImageError("empty file (0 bytes)")
    return data


def to_rgb(im: Image.Image) -> Image.Image:
    """Any mode -> RGB: 16-bit scaled down, alpha/palette transparency on white."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        im = im.point(lambda v: v / 256).convert("L")
    elif im.mode == "F":
        im = im.convert("L")
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA"):
        rgba = im.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return im.convert("RGB")


def decode(data: bytes, options: DecodeOptions = DecodeOptions()) -> tuple[Image.Image, str]:
    """Decode and validate bytes; returns (upright RGB image, format)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            fmt = im.format or ""
            if fmt not in SUPPORTED_FORMATS:
                raise ImageError(
                    f"unsupported image format {fmt or 'unknown'}; supported: "
                    "JPEG, PNG, WebP, GIF, BMP, TIFF"
                )
            w, h = im.size
            if w * h > options.max_pixels:
                raise ImageError(
                    f"{w}x{h} = {w * h:,} pixels is over the limit of {options.max_pixels:,} "
                    "(decompression bomb?); raise --max-pixels to accept it"
                )
            if getattr(im, "is_animated", False):
                im.seek(0)  # animated GIF/WebP: the first frame
            im.load()
            upright = ImageOps.exif_transpose(im) or im
            return to_rgb(upright), fmt
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError("not an image (Pillow cannot identify it)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"decompression bomb: {exc}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImageError(f"corrupt or truncated image: {msg}") from None
