"""The bundled sample: real photos that ship inside packages, with our captions.

``evokegraph sample DIR`` writes the photos of scikit-image's ``skimage.data``
and scikit-learn's sample images as JPEG files, each with a sidecar ``.txt``
holding literal captions written for this project, ``gold.jsonl`` (our reference
associations, for ``evokegraph eval associations``), plus ``sample.jsonl`` (the
same as a list file). Nothing is downloaded and no image is committed.
"""

from __future__ import annotations

import json
from pathlib import Path

from evokegraph.errors import UserInputError

# name -> (loader, captions). Captions are literal descriptions of each photo.
CAPTIONS: dict[str, list[str]] = {
    "astronaut": [
        "an astronaut in an orange spacesuit smiling beside a flag",
        "a woman astronaut holding a white helmet in front of a space shuttle model",
    ],
    "chelsea": [
        "a close-up of a tabby cat with green eyes",
        "an orange striped cat looking at the camera",
    ],
    "coffee": [
        "a cup of coffee on a red saucer with a spoon",
        "an espresso in a red cup on a wooden table",
    ],
    "rocket": [
        "a rocket on a launch pad at dusk",
        "a white rocket between tall towers under a blue evening sky",
    ],
    "camera": [
        "a man looking through a camera on a tripod",
        "a black and white photo of a photographer standing in a field",
    ],
    "clock": ["a blurred clock on a grey wall", "a round clock out of focus"],
    "coins": ["rows of ancient coins on a black background", "a collection of old silver coins"],
    "moon": ["the grey surface of the moon with craters", "a view of a rocky lunar surface"],
    "hubble_deep_field": [
        "thousands of galaxies in the dark sky",
        "a deep space image full of distant stars and galaxies",
    ],
    "retina": [
        "a photo of the retina with red blood vessels",
        "the orange back of a human eye with veins",
    ],
    "immunohistochemistry": [
        "a microscope image of stained tissue with brown cells",
        "a slide of tissue under a microscope",
    ],
    "horse": [
        "the black silhouette of a horse on a white background",
        "a standing horse drawn as a black shape",
    ],
    "china": [
        "a red and gold pagoda on a hill above a lake",
        "a chinese temple surrounded by trees under a hazy sky",
    ],
    "flower": [
        "an orange dahlia flower against a dark green background",
        "a round orange flower in bloom",
    ],
}


def _load(name: str):  # -> numpy array
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        return load_sample_image(f"{name}.jpg")
    import skimage.data

    return getattr(skimage.data, name)()


def write_sample(target: Path) -> list[Path]:
    """Materialise the sample under ``target``; returns the image paths."""
    try:
        import numpy as np
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - core deps
        raise UserInputError(f"cannot write the sample: {exc}") from None
    target.mkdir(parents=True, exist_ok=True)
    paths = []
    rows = []
    for name, captions in CAPTIONS.items():
        try:
            arr = _load(name)
        except ImportError:
            raise UserInputError(
                "the sample needs scikit-image and scikit-learn; pip install 'evokegraph[sample]'"
            ) from None
        if arr.dtype == bool:
            arr = (arr * 255).astype(np.uint8)
        im = Image.fromarray(arr).convert("RGB")
        path = target / f"{name}.jpg"
        im.save(path, quality=92)
        path.with_suffix(".txt").write_text("\n".join(captions) + "\n", encoding="utf-8")
        paths.append(path)
        rows.append({"path": path.name, "captions": captions, "split": ""})
    with (target / "sample.jsonl").open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    # our reference associations for these photos (for `evokegraph eval associations`)
    from importlib import resources

    gold = resources.files("evokegraph.data") / "sample_gold.jsonl"
    (target / "gold.jsonl").write_text(gold.read_text(encoding="utf-8"), encoding="utf-8")
    return paths
