"""The shared CLIP layer (evokegraph.models.clip) on a tiny local open_clip model."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
from PIL import Image

from evokegraph.errors import ModelError
from evokegraph.images import decode
from evokegraph.models.clip import ClipScorer, load_open_clip

torch.set_num_threads(1)


def _pictures() -> list[Image.Image]:
    """Three different pictures: two halves coloured differently, one plain."""
    out = []
    for left, right in (("red", "blue"), ("green", "yellow"), ("white", "white")):
        im = Image.new("RGB", (48, 32), left)
        im.paste(Image.new("RGB", (24, 32), right), (24, 0))
        out.append(im)
    return out


def test_cosines_are_open_clips_normalised_dot_products(tiny_clip: str) -> None:
    torch.manual_seed(0)
    model, preprocess, tokenizer = load_open_clip(tiny_clip, "none")
    model.eval()
    scorer = ClipScorer(model, preprocess, tokenizer, batch_size=2)
    ims, texts = _pictures(), ["a red and blue flag", "a field", "snow"]
    with torch.no_grad():
        a = model.encode_image(torch.stack([preprocess(im) for im in ims]))
        b = model.encode_text(tokenizer(texts))
    want = ((a / a.norm(dim=-1, keepdim=True)) * (b / b.norm(dim=-1, keepdim=True))).sum(-1)
    got = scorer.cosines(ims, texts)
    assert got == pytest.approx(want.tolist(), abs=1e-5)
    assert len(set(round(c, 6) for c in got)) == 3  # three different pairs, three cosines
    # batching changes nothing
    one = ClipScorer(model, preprocess, tokenizer, batch_size=1)
    assert one.cosines(ims, texts) == pytest.approx(got, abs=1e-5)
    assert scorer.encode_images(ims).shape == (3, 16)
    assert scorer.encode_texts(texts).norm(dim=-1).tolist() == pytest.approx([1.0] * 3, abs=1e-5)


def test_load_names_the_weights_and_pairs_must_match(tiny_clip: str) -> None:
    scorer = ClipScorer.load(tiny_clip, "none", device="cpu")
    assert scorer.weights == "none (random weights)" and scorer.device == "cpu"
    assert scorer.cosines([], []) == []
    with pytest.raises(ModelError, match="2 images but 1 texts"):
        scorer.cosines(_pictures()[:2], ["one text"])


def test_report_scorer_decodes_files_as_ingest_does(tiny_clip: str, tmp_path: Path) -> None:
    """The abstraction report's CLIP column sees the EXIF-upright picture, like ingest."""
    from evokegraph.captioning.report import clip_scorer

    torch.manual_seed(0)
    im = _pictures()[0]
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to view
    buf = io.BytesIO()
    im.save(buf, "JPEG", exif=exif.tobytes(), quality=95)
    path = tmp_path / "rotated.jpg"
    path.write_bytes(buf.getvalue())

    score = clip_scorer(tiny_clip, "none", batch=4)
    assert score.weights == "none (random weights)"  # type: ignore[attr-defined]
    torch.manual_seed(0)
    clip = ClipScorer.load(tiny_clip, "none", device="cpu")  # the same random weights
    upright, _ = decode(path.read_bytes())
    assert upright.size == (32, 48)  # the EXIF rotation was applied
    text = "a red and blue flag"
    got = score([str(path)], [text])
    assert got == pytest.approx(clip.cosines([upright], [text]), abs=1e-5)
    raw = Image.open(path).convert("RGB")  # what the report read before: not upright
    assert got != pytest.approx(clip.cosines([raw], [text]), abs=1e-5)
