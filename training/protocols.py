"""The paper's evaluation protocols on their published layouts.

* MultiM-Poem (``eval_poems.py``): a JSON list of ``{"id": int, "poem": str}``
  and a folder of ``{id}.jpg``; each poem is a query over all images; R@1/5/10/20
  and the average rank. The reference filled only 512-wide diagonal blocks of
  the poem x image matrix (the rest stayed 0), so a poem competed with about
  512 images; ``block=512`` reproduces that, the default is the full matrix.
* HAIVMet task 2 (``eval_met_task2.py``): root folders whose sub-folders are
  named by a metaphor and hold its images; each image is a query over the
  metaphor texts (image -> text), at every distance.
* HAIVMet task 3 (``eval_met_task3.py``): a pickle (or JSON) mapping a
  metaphor to ``{"DALLE": path, "DALLE_CoT": path}``; the share of metaphors
  whose DALLE_CoT image scores higher.

Ranks are pessimistic (ties count against the query, see
:mod:`evokegraph.training.evaluate`). Distances are our depths: the
reference's task id ``t`` is depth ``t + 1``.
"""

from __future__ import annotations

import io
import json
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evokegraph.errors import UserInputError
from evokegraph.training.evaluate import KS, ranks_of

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif")


# -- loaders ------------------------------------------------------------------
def load_multim_poem(json_file: str | Path, image_dir: str | Path) -> list[tuple[str, str]]:
    """(image path, poem) for every ``{id}.jpg`` in ``image_dir`` with a poem, by file name."""
    json_file, image_dir = Path(json_file), Path(image_dir)
    if not json_file.is_file() or not image_dir.is_dir():
        raise UserInputError(
            f"MultiM-Poem needs its JSON file and image folder; got {json_file} and {image_dir}"
        )
    try:
        data = json.loads(json_file.read_text(encoding="utf-8"))
        poems = {int(d["id"]): str(d["poem"]) for d in data}
    except (ValueError, KeyError, TypeError) as exc:
        raise UserInputError(
            f"{json_file}: expected a JSON list of objects with id and poem ({exc})"
        ) from None
    pairs = []
    for f in sorted(image_dir.iterdir()):
        stem = f.name.split(".")[0]
        if ".jpg" in f.name and stem.isdigit() and int(stem) in poems:
            pairs.append((str(f), poems[int(stem)]))
    if not pairs:
        raise UserInputError(f"no {image_dir}/ID.jpg matches an id in {json_file}")
    return pairs


def load_haivmet_task2(roots: Sequence[str | Path]) -> list[tuple[str, str]]:
    """(image path, metaphor) from root folders of ``<metaphor>/<image>`` sub-folders."""
    pairs = []
    for root in map(Path, roots):
        if not root.is_dir():
            raise UserInputError(f"HAIVMet root {root} is not a folder")
        for label in sorted(p for p in root.iterdir() if p.is_dir()):
            pairs += [
                (str(f), label.name)
                for f in sorted(label.iterdir())
                if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
            ]
    if not pairs:
        raise UserInputError(f"no metaphor sub-folders with images under {list(map(str, roots))}")
    return pairs


class _DataOnly(pickle.Unpickler):
    """Plain containers and strings only: a data file never runs code."""

    def find_class(self, module: str, name: str) -> Any:
        raise UserInputError(f"refusing to load {module}.{name} from a pickle: data only")


def load_haivmet_task3(path: str | Path) -> list[tuple[str, str, str]]:
    """(metaphor, DALLE image, DALLE_CoT image); relative paths against the file's folder."""
    p = Path(path)
    if not p.is_file():
        raise UserInputError(f"no HAIVMet task-3 file at {p}")
    raw = p.read_bytes()
    data = json.loads(raw) if p.suffix == ".json" else _DataOnly(io.BytesIO(raw)).load()
    if not isinstance(data, dict):
        raise UserInputError(f"{p}: expected a mapping metaphor -> {{DALLE, DALLE_CoT}}")
    out = []
    for text in sorted(data):
        entry = data[text]
        try:
            a, b = (Path(entry["DALLE"]), Path(entry["DALLE_CoT"]))
        except (KeyError, TypeError):
            raise UserInputError(f"{p}: {text!r} needs DALLE and DALLE_CoT paths") from None
        out.append(
            (
                str(text),
                str(a if a.is_absolute() else p.parent / a),
                str(b if b.is_absolute() else p.parent / b),
            )
        )
    return out


# -- metrics ------------------------------------------------------------------
def block_diagonal(sim: np.ndarray, block: int) -> np.ndarray:
    """The reference's matrix: only ``block``-wide diagonal blocks filled, the rest 0."""
    out = np.zeros_like(sim)
    for s in range(0, min(sim.shape), block):
        out[s : s + block, s : s + block] = sim[s : s + block, s : s + block]
    return out


def paired_metrics(sim: np.ndarray, ks: Sequence[int] = KS) -> dict[str, float]:
    """Query ``i`` (a row) is correct at column ``i``: R@k and average rank."""
    ranks = ranks_of(sim, [[i] for i in range(sim.shape[0])])
    return {**{f"R@{k}": float((ranks <= k).mean()) for k in ks}, "avg_rank": float(ranks.mean())}


def poem_metrics(
    poem_emb: np.ndarray, image_emb: np.ndarray, block: int | None = None
) -> dict[str, float]:
    sim = _unit(poem_emb) @ _unit(image_emb).T
    return paired_metrics(block_diagonal(sim, block) if block else sim)


def task2_metrics(
    image_emb: np.ndarray, text_emb: np.ndarray, label_of: Sequence[int]
) -> dict[str, float]:
    sim = _unit(image_emb) @ _unit(text_emb).T
    ranks = ranks_of(sim, [[int(t)] for t in label_of])
    return {**{f"R@{k}": float((ranks <= k).mean()) for k in KS}, "avg_rank": float(ranks.mean())}


def task3_share(text_emb: np.ndarray, dalle_emb: np.ndarray, cot_emb: np.ndarray) -> float:
    """Share of metaphors whose DALLE_CoT image scores strictly higher (argmax ties -> DALLE)."""
    t = _unit(text_emb)
    return float(((t * _unit(cot_emb)).sum(1) > (t * _unit(dalle_emb)).sum(1)).mean())


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# -- models -------------------------------------------------------------------
@dataclass
class Encoder:
    """An open_clip model (optionally with a fine-tuned checkpoint) over files."""

    model: Any
    preprocess: Any
    tokenizer: Any
    weights: str
    conditioned: bool  # True: a distance-token model (images need a depth)
    device: str = "cpu"
    batch: int = 64

    def images(self, paths: Sequence[str], depth: int | None = None) -> np.ndarray:
        import torch
        from PIL import Image

        out = []
        with torch.no_grad():
            for i in range(0, len(paths), self.batch):
                ims = []
                for p in paths[i : i + self.batch]:
                    if not Path(p).is_file():
                        raise UserInputError(f"image {p} not found")
                    with Image.open(p) as im:
                        ims.append(self.preprocess(im.convert("RGB")))
                x = torch.stack(ims).to(self.device)
                if self.conditioned:
                    d = torch.full((len(x),), 1 if depth is None else depth, device=self.device)
                    out.append(self.model.encode_image(x, d).float().cpu())
                else:
                    out.append(self.model.encode_image(x, normalize=True).float().cpu())
        return torch.cat(out).numpy()

    def texts(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        out = []
        with torch.no_grad():
            for i in range(0, len(texts), self.batch):
                tok = self.tokenizer(list(texts[i : i + self.batch])).to(self.device)
                out.append(self.model.encode_text(tok, normalize=True).float().cpu())
        return torch.cat(out).numpy()


def load_encoder(
    model_name: str, pretrained: str | None, checkpoint: str | None, device: str | None = None
) -> Encoder:
    """The model (and checkpoint) on ``device`` (None: CUDA if there is one)."""
    from evokegraph.models.clip import load_open_clip, weights_label
    from evokegraph.training.config import default_device
    from evokegraph.training.model import DistanceTokenCLIP
    from evokegraph.training.train import check_device, model_from_checkpoint

    device = check_device(device or default_device())
    clip, preprocess, tokenizer = load_open_clip(model_name, pretrained, device)
    model = model_from_checkpoint(clip, checkpoint) if checkpoint else clip
    model.eval()
    return Encoder(
        model,
        preprocess,
        tokenizer,
        weights_label(clip),
        isinstance(model, DistanceTokenCLIP),
        device,
    )


def depth_sweep(enc: Encoder, as_depth: Sequence[int] | None) -> list[int | None]:
    """The depths to run: a distance-token model sweeps (default 0..5), plain CLIP runs once."""
    if not enc.conditioned:
        if as_depth:
            raise UserInputError("--as-depth needs a distance-token --checkpoint")
        return [None]
    depths = list(as_depth) if as_depth else list(range(enc.model.max_depth + 1))
    bad = [d for d in depths if not 0 <= d <= enc.model.max_depth]
    if bad:
        raise UserInputError(
            f"--as-depth {bad}: this checkpoint has depths 0..{enc.model.max_depth}"
        )
    out: list[int | None] = list(depths)
    return out


# -- protocols ------------------------------------------------------------------
def run_poem(
    enc: Encoder, pairs: Sequence[tuple[str, str]], depths: Sequence[int | None], block: int | None
) -> list[dict[str, Any]]:
    poems = enc.texts([t for _, t in pairs])
    rows = []
    for d in depths:
        images = enc.images([p for p, _ in pairs], d)
        for b in [None, block] if block else [None]:
            m = poem_metrics(poems, images, b)
            rows.append(
                {
                    "depth": "-" if d is None else d,
                    "matrix": f"block {b}" if b else "full",
                    "queries": len(pairs),
                    **m,
                }
            )
    return rows


def run_task2(
    enc: Encoder, pairs: Sequence[tuple[str, str]], depths: Sequence[int | None]
) -> list[dict[str, Any]]:
    labels = sorted({t for _, t in pairs})
    index = {t: i for i, t in enumerate(labels)}
    texts = enc.texts(labels)
    rows = []
    for d in depths:
        images = enc.images([p for p, _ in pairs], d)
        m = task2_metrics(images, texts, [index[t] for _, t in pairs])
        rows.append({"task": 2, "depth": "-" if d is None else d, "queries": len(pairs), **m})
    return rows


def run_task3(
    enc: Encoder, items: Sequence[tuple[str, str, str]], depths: Sequence[int | None]
) -> list[dict[str, Any]]:
    texts = enc.texts([t for t, _, _ in items])
    rows = []
    for d in depths:
        a = enc.images([x for _, x, _ in items], d)
        b = enc.images([x for _, _, x in items], d)
        rows.append(
            {
                "task": 3,
                "depth": "-" if d is None else d,
                "queries": len(items),
                "DALLE_CoT_share": task3_share(texts, a, b),
            }
        )
    return rows
