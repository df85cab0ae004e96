"""Bad input: every case builds its own bad file and gets a one-line reason."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image

from evokegraph.errors import ImageError
from evokegraph.images import DecodeOptions, sha256_bytes
from evokegraph.ingest.images import load_image


def jpeg_bytes(size: tuple[int, int] = (40, 30), color: str = "red", **save: object) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG", **save)
    return buf.getvalue()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_good_jpeg(tmp_path: Path) -> None:
    data = jpeg_bytes()
    item = load_image(write(tmp_path, "ok.jpg", data), captions=["a red square", " "])
    assert item.record.id == sha256_bytes(data)
    assert (item.record.width, item.record.height, item.record.format) == (40, 30, "JPEG")
    assert item.record.captions == ["a red square"]
    assert item.image is not None and item.image.mode == "RGB"


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.jpg", b"", r"empty file \(0 bytes\)"),
        ("text.jpg", b"hello, I am not a picture", "not an image"),
        ("cut.jpg", jpeg_bytes((200, 200))[:300], "corrupt or truncated image"),
    ],
)
def test_unusable_files(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    with pytest.raises(ImageError, match=reason) as exc:
        load_image(write(tmp_path, name, data))
    assert "\n" not in str(exc.value)


def test_truncated_png(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.effect_noise((300, 300), 50).convert("RGB").save(buf, "PNG")
    with pytest.raises(ImageError, match="corrupt or truncated image"):
        load_image(write(tmp_path, "cut.png", buf.getvalue()[: len(buf.getvalue()) // 2]))


def test_unsupported_format(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "PPM")
    with pytest.raises(ImageError, match=r"unsupported image format PPM; supported: JPEG, PNG"):
        load_image(write(tmp_path, "x.ppm", buf.getvalue()))


def test_decompression_bomb_limit(tmp_path: Path) -> None:
    p = write(tmp_path, "big.png", _png(Image.new("L", (1000, 1000))))
    with pytest.raises(
        ImageError, match=r"1000x1000 = 1,000,000 pixels is over the limit of 999,999.*--max-pixels"
    ):
        load_image(p, options=DecodeOptions(max_pixels=999_999))
    assert load_image(p, options=DecodeOptions(max_pixels=1_000_000)).record.width == 1000


def _png(im: Image.Image, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG", **kw)
    return buf.getvalue()


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.new("CMYK", (10, 10), (0, 255, 255, 0)).save(buf, "JPEG")
    item = load_image(write(tmp_path, "cmyk.jpg", buf.getvalue()))
    assert item.image.mode == "RGB"
    r, g, b = item.image.getpixel((5, 5))
    assert r > 200 and g < 60 and b < 60  # red survives the conversion


def test_16_bit_png(tmp_path: Path) -> None:
    im = Image.new("I;16", (10, 10))
    im.putpixel((0, 0), 65535)
    item = load_image(write(tmp_path, "deep.png", _png(im)))
    assert item.image.mode == "RGB"
    assert item.image.getpixel((0, 0)) == (255, 255, 255)
    assert item.image.getpixel((5, 5)) == (0, 0, 0)


def test_palette_with_transparency_on_white(tmp_path: Path) -> None:
    im = Image.new("P", (10, 10), 0)
    im.putpalette([0, 0, 255] + [0, 0, 0] * 255)
    im.putpixel((0, 0), 1)
    data = _png(im, transparency=0)
    item = load_image(write(tmp_path, "pal.png", data))
    assert item.image.getpixel((5, 5)) == (255, 255, 255)  # transparent -> white
    assert item.image.getpixel((0, 0)) == (0, 0, 0)


def test_animated_gif_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (12, 12), c) for c in ("red", "green", "blue")]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=50)
    item = load_image(write(tmp_path, "anim.gif", buf.getvalue()))
    r, g, b = item.image.getpixel((6, 6))
    assert r > 200 and g < 50 and b < 50


def test_exif_rotated_is_stored_upright(tmp_path: Path) -> None:
    im = Image.new("RGB", (40, 20), "white")
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    data = jpeg_bytes((40, 20), exif=exif.tobytes())
    item = load_image(write(tmp_path, "rot.jpg", data))
    assert (item.record.width, item.record.height) == (20, 40)
    assert im.size == (40, 20)


def test_unicode_and_spaces_in_paths(tmp_path: Path) -> None:
    p = write(tmp_path, "café au lait – ☕ photo.jpg", jpeg_bytes())
    item = load_image(p)
    assert item.record.uris == [str(p)]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file(tmp_path: Path) -> None:
    p = write(tmp_path, "secret.jpg", jpeg_bytes())
    p.chmod(0)
    with pytest.raises(ImageError, match="permission denied; make the file readable"):
        load_image(p)


def test_unreadable_file_as_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Root bypasses permissions, so simulate the OS refusing the read."""
    p = write(tmp_path, "secret.jpg", jpeg_bytes())

    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(ImageError, match="permission denied; make the file readable"):
        load_image(p)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="file not found"):
        load_image(tmp_path / "gone.jpg")
