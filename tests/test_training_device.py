"""The training code's device path, checked on the CPU: no temp-dir leak from
local-dir models, device options, loader settings for CUDA, throughput fields."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import torch

from evokegraph.models.clip import load_open_clip

torch.set_num_threads(1)


def _clip_dirs() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("evokegraph-clip-*")}


def test_local_dir_model_leaves_no_temp_dir(tiny_clip: str) -> None:
    import open_clip

    before = _clip_dirs()
    paths_before = len(open_clip.factory._MODEL_CONFIG_PATHS)
    for _ in range(2):  # loading twice still works: the config stays registered
        model, _, tokenizer = load_open_clip(tiny_clip, "none")
        assert model.visual is not None and tokenizer(["a cat"]).shape[0] == 1
    assert _clip_dirs() == before
    assert len(open_clip.factory._MODEL_CONFIG_PATHS) == paths_before


def test_cuda_asked_for_without_cuda_is_one_clear_error(monkeypatch) -> None:
    import pytest

    from evokegraph.errors import UserInputError
    from evokegraph.training.train import check_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UserInputError, match="--device cuda:1: no CUDA device.*--device cpu"):
        check_device("cuda:1")
    assert check_device("cpu") == "cpu"


def test_bf16_autocast_only_on_cuda_and_only_with_amp() -> None:
    import contextlib
    import warnings

    from evokegraph.training.train import TrainConfig, autocast

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a CPU-only torch warns that CUDA autocast is off
        on = autocast(TrainConfig(data="x", device="cuda"))
    assert isinstance(on, torch.autocast) and on.device == "cuda"
    assert on.fast_dtype == torch.bfloat16
    for cfg in (
        TrainConfig(data="x", device="cpu"),
        TrainConfig(data="x", device="cuda", amp=False),
    ):
        assert isinstance(autocast(cfg), contextlib.nullcontext)


def test_loaders_pin_memory_on_cuda_and_tokenise_in_workers(tmp_path: Path) -> None:
    from evokegraph.training.train import PairDataset, PairRow, TrainConfig, make_loaders

    rows = [PairRow(f"im{i}.jpg", f"caption {i}", i % 2, f"im{i}") for i in range(6)]
    ds = PairDataset(rows, preprocess=None)

    def tok(captions: list[str]) -> torch.Tensor:
        return torch.tensor([[len(c)] for c in captions])

    cuda = TrainConfig(data="x", device="cuda", workers=2, batch_size=4)
    shuffled, hard, _, _ = make_loaders(cuda, ds, rows, tok, rank=0, world=1)
    assert shuffled.pin_memory and hard.pin_memory
    assert shuffled.persistent_workers and shuffled.num_workers == 2
    cpu = TrainConfig(data="x", device="cpu", batch_size=4)
    shuffled, hard, _, _ = make_loaders(cpu, ds, rows, tok, rank=0, world=1)
    assert not shuffled.pin_memory and not shuffled.persistent_workers
    item = (torch.zeros(3, 2, 2), "a cat", 1, "im0")
    batch = shuffled.collate_fn([item, item])
    assert batch["tokens"].tolist() == [[5], [5]] and batch["images"].shape == (2, 3, 2, 2)


def test_vectorised_false_negative_mask_equals_pairwise() -> None:
    import random

    from evokegraph.pairs import norm_caption
    from evokegraph.training.train import false_negative_mask

    rng = random.Random(0)
    caps = [rng.choice(["A dog.", "a dog", "a cat", "Rain", "rain!", "joy"]) for _ in range(40)]
    ids = [rng.choice("abcd") for _ in caps]
    depths = [rng.randrange(3) for _ in caps]
    n = len(caps)
    want = [
        [
            i != j
            and (
                norm_caption(caps[i]) == norm_caption(caps[j])
                or (ids[i], depths[i]) == (ids[j], depths[j])
            )
            for j in range(n)
        ]
        for i in range(n)
    ]
    assert false_negative_mask(caps, ids, depths).tolist() == want
    assert false_negative_mask(caps).sum() < false_negative_mask(caps, ids, depths).sum()


def test_batch_loss_runs_through_the_wrapper_forward() -> None:
    """DDP syncs gradients only for what ran through its forward: the loss must call it."""
    from torch import nn

    from evokegraph.training.train import _batch_loss

    class Core(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.randn(4, 4))
            self.logit_scale = nn.Parameter(torch.tensor(1.0))

        def forward(self, images, depths, tokens):  # type: ignore[no-untyped-def]
            return images @ self.w, tokens.float() @ self.w

    class Spy(nn.Module):
        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self.inner, self.calls = inner, 0

        def forward(self, *args):  # type: ignore[no-untyped-def]
            self.calls += 1
            return self.inner(*args)

    core = Core()
    spy = Spy(core)
    batch = {
        "images": torch.randn(3, 4),
        "tokens": torch.randint(0, 5, (3, 4)),
        "captions": ["a", "b", "c"],
        "image_ids": ["x", "y", "z"],
        "depths": torch.tensor([0, 1, 2]),
    }
    _batch_loss(core, spy, batch, tokenizer=None, device="cpu").backward()  # type: ignore[arg-type]
    assert spy.calls == 1 and core.w.grad is not None


def _write_pairs(folder: Path) -> Path:
    """Eight coloured 32x32 images, each at depths 0 and 2, as an export's pairs TSV."""
    import csv

    from PIL import Image

    data = folder / "pairs.csv"
    with data.open("w", newline="") as f:
        w = csv.writer(f, delimiter="\t")
        w.writerow(["filepath", "title", "depth", "weight", "image_id"])
        for i in range(8):
            p = folder / f"im{i}.png"
            Image.new("RGB", (32, 32), (30 * i, 10, 200 - 20 * i)).save(p)
            for d in (0, 2):
                w.writerow([p, f"colour {i} at depth {d}", d, 1.0, f"im{i}"])
    return data


def test_max_steps_and_throughput_fields(tiny_clip: str, tmp_path: Path) -> None:
    import json

    from evokegraph.training.train import TrainConfig, train

    data = _write_pairs(tmp_path)
    cfg = TrainConfig(
        data=str(data),
        model=tiny_clip,
        pretrained="none",
        out=str(tmp_path / "run"),
        epochs=50,
        batch_size=4,
        max_steps=3,
        device="cpu",
    )
    result = train(cfg)
    log = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert result["steps"] == 3 and len(log) == 3
    assert result["pairs_seen"] == sum(r["pairs"] for r in log) > 0
    assert result["pairs_per_s"] > 0 and result["precision"] == "fp32"
    assert "cuda_peak_memory_gib" not in result and "RANDOM WEIGHTS" in result["warning"]


def test_evaluation_and_protocols_take_a_device(monkeypatch, tiny_clip: str) -> None:
    import pytest

    from evokegraph.errors import UserInputError
    from evokegraph.training import protocols as P
    from evokegraph.training.evaluate import evaluate_model

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UserInputError, match="no CUDA device"):
        evaluate_model(tiny_clip, "unused.csv", pretrained="none", device="cuda")
    with pytest.raises(UserInputError, match="no CUDA device"):
        P.load_encoder(tiny_clip, "none", None, device="cuda")
    assert P.load_encoder(tiny_clip, "none", None).device == "cpu"  # default: CUDA if any


def _ddp_rank(rank: int, port: int, data: str, model: str, out: str) -> None:
    import os

    os.environ.update(
        WORLD_SIZE="2", RANK=str(rank), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )  # fmt: skip
    torch.set_num_threads(1)
    import evokegraph.training.train as T

    seen: list[torch.nn.Module] = []
    loop = T._loop

    def spy(cfg, core, *rest):  # type: ignore[no-untyped-def]
        seen.append(core)
        return loop(cfg, core, *rest)

    T._loop = spy  # type: ignore[assignment]
    cfg = T.TrainConfig(
        data=data, model=model, pretrained="none", out=out, epochs=20, batch_size=4,
        max_steps=3, lr=0.05, device="cpu", seed=rank,
    )  # fmt: skip
    T.train(cfg)
    torch.save(seen[0].distance_tokens.detach(), Path(out) / f"tokens{rank}.pt")
    torch.distributed.destroy_process_group()


# slow: spawns two processes that each import torch and train (25 s of the fast loop)
@pytest.mark.slow
def test_ddp_keeps_ranks_in_sync(tiny_clip: str, tmp_path: Path) -> None:
    """Two CPU ranks (gloo) on different data end with the same tokens: DDP averaged
    the gradients (when the loss bypassed DDP's forward, each rank drifted alone)."""
    import socket

    import torch.multiprocessing as mp

    data = _write_pairs(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_ddp_rank, args=(port, str(data), tiny_clip, str(tmp_path)), nprocs=2)
    t0, t1 = (torch.load(tmp_path / f"tokens{r}.pt") for r in (0, 1))
    assert torch.equal(t0, t1)
