"""Retrieval evaluation over the full similarity matrix (never block-wise).

Every text is ranked against *all* images and every image against *all*
texts (the reference code filled only 512-wide diagonal blocks, so a query
competed with ~512 candidates). Ties count against the query (pessimistic):
a correct candidate's rank is 1 + the number of *other* candidates scoring at
least as high, so a constant model gets the worst rank, not the best.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

KS = (1, 5, 10, 20)


@dataclass
class Retrieval:
    direction: str
    queries: int
    recall: dict[int, float]
    mean_rank: float
    median_rank: float

    def row(self) -> dict[str, object]:
        return {
            "direction": self.direction,
            "queries": self.queries,
            **{f"R@{k}": round(v, 4) for k, v in self.recall.items()},
            "mean_rank": round(self.mean_rank, 2),
            "median_rank": self.median_rank,
        }


def ranks_of(sim: np.ndarray, correct: Sequence[Sequence[int]]) -> np.ndarray:
    """For each query row, the pessimistic rank (1-based) of its best correct candidate.

    Vectorised: the best correct score per row by a scatter-max, then one
    comparison of the whole matrix against it.
    """
    sim = np.asarray(sim)
    rows = np.fromiter((q for q, cols in enumerate(correct) for _ in cols), dtype=np.int64)
    cols = np.fromiter((c for cs in correct for c in cs), dtype=np.int64)
    best = np.full(sim.shape[0], -np.inf, dtype=sim.dtype)
    np.maximum.at(best, rows, sim[rows, cols])
    # candidates at least as good as the best correct one (itself included)
    return (sim >= best[:, None]).sum(axis=1).astype(np.int64)


def summarize(direction: str, ranks: np.ndarray, ks: Sequence[int] = KS) -> Retrieval:
    return Retrieval(
        direction=direction,
        queries=len(ranks),
        recall={k: float((ranks <= k).mean()) for k in ks},
        mean_rank=float(ranks.mean()),
        median_rank=float(np.median(ranks)),
    )


def retrieval_multi(
    image_emb: np.ndarray, text_emb: np.ndarray, text_images: Sequence[Sequence[int]]
) -> list[Retrieval]:
    """Like :func:`retrieval` when one text may describe several images (the
    same caption written for two pictures counts as correct for both)."""
    img = np.asarray(image_emb, dtype=np.float32)
    txt = np.asarray(text_emb, dtype=np.float32)
    sim = (txt / np.linalg.norm(txt, axis=1, keepdims=True)) @ (
        img / np.linalg.norm(img, axis=1, keepdims=True)
    ).T
    texts_of: list[list[int]] = [[] for _ in range(img.shape[0])]
    for t, imgs in enumerate(text_images):
        for i in imgs:
            texts_of[i].append(t)
    has_text = [i for i in range(img.shape[0]) if texts_of[i]]
    t2i = ranks_of(sim, text_images)
    i2t = ranks_of(np.ascontiguousarray(sim.T[has_text]), [texts_of[i] for i in has_text])
    return [summarize("text->image", t2i), summarize("image->text", i2t)]


def retrieval(
    image_emb: np.ndarray, text_emb: np.ndarray, text_image: Sequence[int]
) -> list[Retrieval]:
    """Both directions. ``text_image[t]`` is the index of text ``t``'s image.

    Embeddings are L2-normalised here; the similarity matrix is computed once,
    whole ([texts x images]).
    """
    img = np.asarray(image_emb, dtype=np.float32)
    txt = np.asarray(text_emb, dtype=np.float32)
    img = img / np.linalg.norm(img, axis=1, keepdims=True)
    txt = txt / np.linalg.norm(txt, axis=1, keepdims=True)
    sim = txt @ img.T  # [texts, images], the whole matrix
    n_txt, n_img = sim.shape
    owner = np.asarray(text_image, dtype=np.int64)
    correct = sim[np.arange(n_txt), owner]
    t2i = (sim >= correct[:, None]).sum(axis=1)  # each text against all images
    best = np.full(n_img, np.inf, dtype=sim.dtype)  # images without text never count
    best[np.unique(owner)] = -np.inf
    np.maximum.at(best, owner, correct)  # an image's best-scoring correct text
    i2t = (sim >= best[None, :]).sum(axis=0)[np.isfinite(best)]  # each image against all texts
    return [summarize("text->image", t2i), summarize("image->text", i2t)]


# -- models on files ----------------------------------------------------------
def read_eval_pairs(path: str) -> list[tuple[str, str, int]]:
    """(image path, text, depth) from an export csv (tab-separated), a plain
    csv with path/filepath + text/title/caption, a jsonl, or a parquet export."""
    import csv
    import json
    from pathlib import Path

    from evokegraph.errors import UserInputError

    p = Path(path)
    if not p.is_file():
        raise UserInputError(f"no pairs file at {p}; give a csv/jsonl of image path + text")
    base = p.parent

    def make(row: dict) -> tuple[str, str, int]:
        img = row.get("filepath") or row.get("path") or row.get("uri") or row.get("image")
        text = row.get("title") or row.get("text") or row.get("caption")
        if not img or not text:
            raise UserInputError(
                f"{p}: each pair needs an image path (filepath/path) and a text (title/text/caption)"
            )
        img_path = Path(img)
        return (
            str(img_path if img_path.is_absolute() else base / img_path),
            text,
            int(row.get("depth") or 0),
        )

    if p.suffix == ".parquet":
        import pyarrow.parquet as pq

        return [make(r) for r in pq.read_table(p).to_pylist()]
    if p.suffix in (".jsonl", ".ndjson"):
        return [
            make(json.loads(line))
            for line in p.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
    text = p.read_text(encoding="utf-8")
    delimiter = "\t" if "\t" in text.splitlines()[0] else ","
    return [make(r) for r in csv.DictReader(text.splitlines(), delimiter=delimiter)]


def evaluate_model(
    model_name: str,
    data: str,
    *,
    pretrained: str | None = None,
    checkpoint: str | None = None,
    depths: Sequence[int] | None = None,
    batch: int = 64,
    device: str | None = None,
) -> list[dict[str, object]]:
    """Retrieval rows per depth (and all depths) for one model on one pairs file.

    ``device`` None: CUDA if there is one. Embeddings are computed in fp32."""
    import torch
    from PIL import Image

    from evokegraph.models.clip import load_open_clip
    from evokegraph.training.config import default_device
    from evokegraph.training.model import DistanceTokenCLIP
    from evokegraph.training.train import check_device, model_from_checkpoint

    device = check_device(device or default_device())
    clip, preprocess, tokenizer = load_open_clip(model_name, pretrained, device)
    model: Any = model_from_checkpoint(clip, checkpoint) if checkpoint else clip
    model.eval()
    pairs = read_eval_pairs(data)
    images = sorted({p for p, _, _ in pairs})
    index = {p: i for i, p in enumerate(images)}
    groups = sorted({d for _, _, d in pairs}) if depths is None else list(depths)
    rows: list[dict[str, object]] = []
    with torch.no_grad():
        pixels = []
        for p in images:
            with Image.open(p) as im:
                pixels.append(preprocess(im.convert("RGB")))
        for d in groups:
            by_text: dict[str, set[int]] = {}
            for p, t, dd in pairs:
                if dd == d:
                    by_text.setdefault(t, set()).add(index[p])
            if not by_text:
                continue
            sub = list(by_text.items())  # unique texts, each with its images
            img_emb = []
            for i in range(0, len(pixels), batch):
                x = torch.stack(pixels[i : i + batch]).to(device)
                if isinstance(model, DistanceTokenCLIP):
                    depth = torch.full((len(x),), d, dtype=torch.long, device=device)
                    e = model.encode_image(x, depth)
                else:
                    e = model.encode_image(x, normalize=True)
                img_emb.append(e.float().cpu())
            txt_emb = []
            for i in range(0, len(sub), batch):
                tokens = tokenizer([t for t, _ in sub[i : i + batch]]).to(device)
                txt_emb.append(model.encode_text(tokens, normalize=True).float().cpu())
            found = retrieval_multi(
                torch.cat(img_emb).numpy(), torch.cat(txt_emb).numpy(), [sorted(i) for _, i in sub]
            )
            rows += [{"depth": d, **r.row()} for r in found]
    return rows
