"""Fine-tuning on graph-derived pairs: distance tokens (the method) or plain CLIP.

Two batch streams per step, as in the published method: shuffled pairs
(loss weight 0.6) and balanced hard batches (0.4) that take one caption per
(image, depth) per round, round-robin over each image's depths (the
reference's ``get_data_balanced``), so the other depths of the same picture
are hard negatives and no batch repeats an (image, depth). The loss is
symmetric InfoNCE with false negatives masked: pairs that share (image,
depth) (identical image embeddings, different captions) and identical or
near-identical captions of different pairs (abstract captions repeat across
images) are not counted as negatives. AMP on GPU, gradient accumulation,
checkpoints with resume, a torchrun-compatible DDP path, a metrics jsonl.

``main(argv)`` is the entry point (``python -m evokegraph.training.train`` or
under ``torchrun``); ``evokegraph train`` calls :func:`train`.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import random
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from evokegraph.errors import UserInputError
from evokegraph.levels import MAX_EVOKES_DISTANCE
from evokegraph.options import add_arguments, build
from evokegraph.pairs import norm_caption
from evokegraph.training.config import TrainConfig

if TYPE_CHECKING:
    from evokegraph.training.model import CLIPModel


# -- data ---------------------------------------------------------------------
@dataclass(frozen=True)
class PairRow:
    path: str
    caption: str
    depth: int
    image_id: str


def read_pairs(data: str) -> list[PairRow]:
    """An export: a csv (tab-separated, open_clip layout) or a parquet file."""
    p = Path(data)
    if not p.is_file():
        raise UserInputError(
            f"no training data at {p}; export it with `evokegraph export --format csv`"
        )
    if p.suffix == ".parquet":
        import pyarrow.parquet as pq

        t = pq.read_table(p).to_pylist()
        return [PairRow(r["uri"], r["caption"], int(r["depth"]), r["image_id"]) for r in t]
    with p.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if rows and not {"filepath", "title"} <= set(rows[0]):
        raise UserInputError(f"{p}: needs tab-separated columns filepath and title")
    return [
        PairRow(
            r["filepath"], r["title"], int(r.get("depth") or 0), r.get("image_id") or r["filepath"]
        )
        for r in rows
    ]


class PairDataset(Dataset):
    def __init__(self, rows: Sequence[PairRow], preprocess: Any) -> None:
        self.rows = list(rows)
        self.preprocess = preprocess

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, str, int, str]:
        from PIL import Image

        r = self.rows[i]
        with Image.open(r.path) as im:
            image = self.preprocess(im.convert("RGB"))
        return image, r.caption, r.depth, r.image_id


def collate(
    batch: list[tuple[torch.Tensor, str, int, str]], tokenizer: Any = None
) -> dict[str, Any]:
    """One batch; with ``tokenizer`` the captions are tokenised here too (in the
    loader's workers, and pinned with the images when the loader pins memory)."""
    images, captions, depths, ids = zip(*batch, strict=True)
    out = {
        "images": torch.stack(images),
        "captions": list(captions),
        "depths": torch.tensor(depths, dtype=torch.long),
        "image_ids": list(ids),
    }
    if tokenizer is not None:
        out["tokens"] = tokenizer(list(captions))
    return out


class BalancedHardBatches(torch.utils.data.Sampler[list[int]]):
    """Hard batches: one caption per (image, depth) per round, round-robin.

    Round r takes the r-th caption (in a seeded shuffle) of every (image,
    depth) group; within a round an image's depths stay together, so they are
    each other's hard negatives. Batches are cut so that no batch holds two
    rows of one (image, depth) (those would share an image embedding), and
    their order is shuffled per epoch, as the reference's ShuffledBatchSampler.
    """

    def __init__(self, rows: Sequence[PairRow], batch_size: int, seed: int = 0) -> None:
        self.groups: dict[tuple[str, int], list[int]] = defaultdict(list)
        self.key_of = [(r.image_id, r.depth) for r in rows]
        for i, key in enumerate(self.key_of):
            self.groups[key].append(i)
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = 0

    def batches(self) -> list[list[int]]:
        rng = random.Random(self.seed + self.epoch)
        by_image: dict[str, list[list[int]]] = defaultdict(list)
        for (image, _depth), idx in sorted(self.groups.items()):
            by_image[image].append(rng.sample(idx, len(idx)))
        images = sorted(by_image)
        rng.shuffle(images)
        out: list[list[int]] = []
        batch: list[int] = []
        seen: set[tuple[str, int]] = set()
        rounds = max((len(g) for g in self.groups.values()), default=0)
        for r in range(rounds):
            for image in images:
                block = [g[r] for g in by_image[image] if r < len(g)]
                for i in block:
                    key = self.key_of[i]
                    if len(batch) >= self.batch_size or key in seen:
                        out.append(batch)
                        batch, seen = [], set()
                    batch.append(i)
                    seen.add(key)
        if len(batch) > 1:
            out.append(batch)
        rng.shuffle(out)
        return out

    def __iter__(self) -> Iterator[list[int]]:
        yield from self.batches()

    def __len__(self) -> int:
        return len(self.batches())


# -- loss ---------------------------------------------------------------------
def false_negative_mask(
    captions: Sequence[str],
    image_ids: Sequence[str] | None = None,
    depths: Sequence[int] | None = None,
) -> torch.Tensor:
    """True where two *different* pairs are not true negatives of each other:
    the same (normalised) caption, or the same (image, depth) (then the image
    embeddings are identical, so the other caption is not a wrong answer)."""
    m = _same([norm_caption(c) for c in captions])
    if image_ids is not None and depths is not None:
        m |= _same(list(zip(image_ids, [int(d) for d in depths], strict=True)))
    return m & ~torch.eye(len(captions), dtype=torch.bool)


def _same(keys: Sequence[object]) -> torch.Tensor:
    """[n, n] True where keys i and j are equal (one code per key, one broadcast compare)."""
    index: dict[object, int] = {}
    codes = torch.tensor([index.setdefault(k, len(index)) for k in keys], dtype=torch.long)
    return codes[:, None] == codes[None, :]


def contrastive_loss(
    image: torch.Tensor, text: torch.Tensor, scale: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    logits = scale * image @ text.T
    if mask is not None and mask.any():
        logits = logits.masked_fill(mask.to(logits.device), torch.finfo(logits.dtype).min)
    labels = torch.arange(len(image), device=image.device)
    return (
        nn.functional.cross_entropy(logits, labels) + nn.functional.cross_entropy(logits.T, labels)
    ) / 2


# -- model --------------------------------------------------------------------
def build_model(cfg: TrainConfig) -> tuple[CLIPModel, Any, Any]:
    from evokegraph.models.clip import load_open_clip
    from evokegraph.training.model import DistanceTokenCLIP, PlainCLIP

    clip, preprocess, tokenizer = load_open_clip(cfg.model, cfg.pretrained, cfg.device)
    if cfg.method == "distance-tokens":
        model: CLIPModel = DistanceTokenCLIP(
            clip,
            n_tokens=cfg.distance_tokens,
            position=cfg.token_position,
            init_std=cfg.token_init_std,
        )
    elif cfg.method == "finetune":
        model = PlainCLIP(clip, lock_image=cfg.lock_image, lock_text=cfg.lock_text)
    else:
        raise UserInputError(f"unknown method {cfg.method!r}; use distance-tokens or finetune")
    return model.to(cfg.device), preprocess, tokenizer


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu() for k, v in model.named_parameters() if v.requires_grad}


def save_checkpoint(
    path: Path, model: nn.Module, opt: torch.optim.Optimizer, step: int, cfg: TrainConfig
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "trainable": trainable_state(model),
            "optimizer": opt.state_dict(),
            "step": step,
            "config": cfg.model_dump(),
        },
        tmp,
    )
    tmp.replace(path)  # never a half-written checkpoint


def load_checkpoint(path: str, model: nn.Module, opt: torch.optim.Optimizer | None = None) -> int:
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    missing = model.load_state_dict(ckpt["trainable"], strict=False)
    if missing.unexpected_keys:
        raise UserInputError(
            f"checkpoint {path} does not fit this model: {missing.unexpected_keys[:3]}"
        )
    if opt is not None:
        opt.load_state_dict(ckpt["optimizer"])
    return int(ckpt["step"])


def model_from_checkpoint(clip: nn.Module, path: str) -> nn.Module:
    """The model a checkpoint was trained as, around ``clip``: distance tokens
    (with the token position it was trained with) or plain fine-tuned weights."""
    from evokegraph.training.model import DistanceTokenCLIP

    if not Path(path).is_file():
        raise UserInputError(
            f"no checkpoint at {path}; give a checkpoint.pt from `evokegraph train`"
        )
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    trained = ckpt.get("trainable", {})
    if "distance_tokens" in trained:
        tokens = trained["distance_tokens"]
        cfg = ckpt.get("config") or {}
        model = DistanceTokenCLIP(
            clip,
            n_tokens=tokens.shape[1],
            max_depth=tokens.shape[0] - 1,
            position=cfg.get("token_position", "post-ln"),  # checkpoints before the option
        )
        load_checkpoint(path, model)
        return model
    state = {k.removeprefix("clip."): v for k, v in trained.items()}
    unexpected = clip.load_state_dict(state, strict=False).unexpected_keys
    if unexpected:
        raise UserInputError(f"checkpoint {path} does not fit this model: {unexpected[:3]}")
    return clip


# -- the loop -----------------------------------------------------------------
def _distributed() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend)
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    rank = torch.distributed.get_rank() if world > 1 else 0
    return rank, world


def check_device(device: str) -> str:
    """``device`` if torch can use it; one clear error when CUDA is asked for and absent."""
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserInputError(
            f"--device {device}: no CUDA device is visible to torch {torch.__version__} "
            f"(built for CUDA {torch.version.cuda or 'none'}); use --device cpu"
        )
    return device


def autocast(cfg: TrainConfig) -> contextlib.AbstractContextManager[Any]:
    """bf16 autocast on CUDA when ``cfg.amp``; nothing on the CPU (fp32 there)."""
    if cfg.amp and cfg.device.startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def make_loaders(
    cfg: TrainConfig,
    ds: PairDataset,
    rows: Sequence[PairRow],
    tokenizer: Any,
    rank: int,
    world: int,
) -> tuple[DataLoader, DataLoader, BalancedHardBatches, DistributedSampler[int] | None]:
    """The shuffled and the balanced-hard loaders. On CUDA their batches are
    pinned (so ``.to(device, non_blocking=True)`` overlaps the copy); with
    workers, captions are tokenised in the workers, which persist across epochs."""
    sampler: DistributedSampler[int] | None = (
        DistributedSampler(ds, seed=cfg.seed) if world > 1 else None
    )
    common: dict[str, Any] = {
        "collate_fn": partial(collate, tokenizer=tokenizer),
        "num_workers": cfg.workers,
        "pin_memory": cfg.device.startswith("cuda"),
        "persistent_workers": cfg.workers > 0,
    }
    shuffled = DataLoader(
        ds,
        batch_size=cfg.batch_size,
        shuffle=sampler is None,
        sampler=sampler,
        drop_last=len(ds) > cfg.batch_size,
        **common,
    )
    hard_sampler = BalancedHardBatches(rows, cfg.batch_size, cfg.seed + rank)
    hard = DataLoader(ds, batch_sampler=hard_sampler, **common)
    return shuffled, hard, hard_sampler, sampler


def train(cfg: TrainConfig) -> dict[str, Any]:
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    check_device(cfg.device)
    rank, world = _distributed()
    rows = read_pairs(cfg.data)
    if cfg.method == "distance-tokens":
        _check_depths(rows, cfg.data)
    model, preprocess, tokenizer = build_model(cfg)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise UserInputError("nothing to train: every tower is locked")
    opt = torch.optim.Adam(params, lr=cfg.lr)
    step = load_checkpoint(cfg.resume, model, opt) if cfg.resume else 0
    wrapped: nn.Module = model
    if world > 1:
        wrapped = nn.parallel.DistributedDataParallel(model, find_unused_parameters=True)
    loaders = make_loaders(cfg, PairDataset(rows, preprocess), rows, tokenizer, rank, world)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(cfg.device)
    with (out / "metrics.jsonl").open("a", encoding="utf-8") as log:
        step, last, pairs = _loop(cfg, model, wrapped, opt, loaders, tokenizer, step, rank, log)
    if rank == 0:
        save_checkpoint(out / "checkpoint.pt", model, opt, step, cfg)
    return _result(cfg, model, step, last, pairs, out)


def _loop(
    cfg: TrainConfig,
    core: CLIPModel,
    wrapped: nn.Module,
    opt: torch.optim.Optimizer,
    loaders: tuple[DataLoader, DataLoader, BalancedHardBatches, DistributedSampler[int] | None],
    tokenizer: Any,
    step: int,
    rank: int,
    log: Any,
) -> tuple[int, dict[str, Any], int]:
    """The optimizer steps: (last step, its metrics row, pairs seen in this run)."""
    shuffled, hard, hard_sampler, sampler = loaders
    t0, last = time.perf_counter(), {}
    micro = pairs = step_pairs = 0
    first = step
    for epoch in range(cfg.epochs):
        hard_sampler.epoch = epoch
        if sampler is not None:
            sampler.set_epoch(epoch)
        for b1, b2 in zip(shuffled, _cycle(hard), strict=False):
            with autocast(cfg):
                loss = cfg.shuffled_weight * _batch_loss(core, wrapped, b1, tokenizer, cfg.device)
                loss = loss + cfg.hard_weight * _batch_loss(
                    core, wrapped, b2, tokenizer, cfg.device
                )
            (loss / cfg.accum).backward()
            micro += 1
            step_pairs += len(b1["captions"]) + len(b2["captions"])
            if micro % cfg.accum:
                continue
            opt.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            pairs += step_pairs
            last = {
                "step": step,
                "epoch": epoch,
                "loss": float(loss.detach()),  # waits for the step: seconds are real
                "lr": cfg.lr,
                "pairs": step_pairs,
                "seconds": round(time.perf_counter() - t0, 3),
            }
            step_pairs = 0
            if rank == 0:
                log.write(json.dumps(last) + "\n")
                log.flush()
                if cfg.save_every and step % cfg.save_every == 0:
                    save_checkpoint(Path(cfg.out) / "checkpoint.pt", core, opt, step, cfg)
            if cfg.max_steps and step - first >= cfg.max_steps:
                return step, last, pairs
    return step, last, pairs


def _result(
    cfg: TrainConfig, core: CLIPModel, step: int, last: dict[str, Any], pairs: int, out: Path
) -> dict[str, Any]:
    from evokegraph.models.clip import is_random, weights_label

    seconds = float(last.get("seconds") or 0.0)
    result = {"steps": step, **last, "checkpoint": str(out / "checkpoint.pt")}
    result["device"] = cfg.device
    result["precision"] = "bf16 autocast" if cfg.amp and cfg.device.startswith("cuda") else "fp32"
    result["pairs_seen"] = pairs
    result["pairs_per_s"] = round(pairs / seconds, 2) if seconds > 0 else None
    if cfg.device.startswith("cuda"):
        result["cuda_peak_memory_gib"] = round(
            torch.cuda.max_memory_allocated(cfg.device) / 2**30, 3
        )
    result["weights"] = weights_label(core.clip)
    if is_random(core.clip):
        result["warning"] = "RANDOM WEIGHTS (--pretrained none): this run is not the method"
    return result


def _check_depths(rows: Sequence[PairRow], data: str, max_depth: int = MAX_EVOKES_DISTANCE) -> None:
    bad = sorted({r.depth for r in rows if not 0 <= r.depth <= max_depth})
    if bad:
        raise UserInputError(
            f"{data} has depths {bad}; the distance-token model has tokens for depths "
            f"0..{max_depth} only; re-export with `evokegraph export --depth 0 --depth 1 ... "
            f"--depth {max_depth}` or use --method finetune"
        )


def _batch_loss(
    core: CLIPModel, model: nn.Module, batch: dict[str, Any], tokenizer: Any, device: str
) -> torch.Tensor:
    tokens = batch["tokens"] if "tokens" in batch else tokenizer(batch["captions"])
    images = batch["images"].to(device, non_blocking=True)
    depths = batch["depths"].to(device, non_blocking=True)
    # through ``model`` (DDP when distributed): DDP syncs gradients only for
    # what ran through its forward
    img, txt = model(images, depths, tokens.to(device, non_blocking=True))
    mask = false_negative_mask(batch["captions"], batch["image_ids"], batch["depths"].tolist())
    return contrastive_loss(img, txt, core.logit_scale.exp(), mask)


def _cycle(loader: DataLoader) -> Iterator[Any]:
    while True:
        yield from loader


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """``python -m evokegraph.training.train`` (e.g. under torchrun): the options
    of ``evokegraph train``, read from :class:`TrainConfig`."""
    ap = argparse.ArgumentParser(
        prog="python -m evokegraph.training.train", description=__doc__.splitlines()[0]
    )
    add_arguments(ap, TrainConfig)
    return train(build(TrainConfig, vars(ap.parse_args(argv))))


if __name__ == "__main__":
    print(json.dumps(main()))
