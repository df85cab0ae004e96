"""The settings of one fine-tuning run: :class:`TrainConfig`, the one source of
``evokegraph train``'s options and of ``python -m evokegraph.training.train``'s
(torchrun) arguments. No torch import here, so the CLI starts fast.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ConfigDict

from evokegraph.options import REQUIRED, BackendOptions, PathText, option

MODEL_HELP = "open_clip model name, or local-dir:PATH."
PRETRAINED_HELP = (
    "open_clip pretrained tag or checkpoint path (default: the method's "
    "laion2b_s34b_b79k for ViT-B-32; 'none': random weights, flagged in every report)."
)


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class TrainConfig(BackendOptions):
    """The declared options of a run (each field with its flag); a checkpoint keeps
    them as ``model_dump()`` (the same keys and values the dataclass kept)."""

    # settable after construction (checked again), as the dataclass was
    model_config = ConfigDict(extra="forbid", frozen=False, validate_assignment=True)

    data: PathText = option(
        REQUIRED,
        "--data",
        "An export: train.csv (tab-separated) or pairs.parquet.",
        cli_type=Path,
    )
    model: str = option("ViT-B-32", "--model", MODEL_HELP)
    # None: the model's default (laion2b_s34b_b79k); "none": random weights
    pretrained: str | None = option(None, "--pretrained", PRETRAINED_HELP)
    method: str = option("distance-tokens", "--method", "distance-tokens (the method) or finetune.")
    out: PathText = option(
        "runs/train", "--out", "Run folder (checkpoint.pt, metrics.jsonl).", cli_type=Path
    )
    epochs: int = option(1, "--epochs", "Epochs.", min=1)
    lr: float = option(1e-4, "--lr", "Learning rate (Adam).")
    batch_size: int = option(64, "--batch-size", "Pairs per batch, each stream.", min=2)
    accum: int = option(1, "--accum", "Gradient accumulation steps.", min=1)
    distance_tokens: int = option(5, "--distance-tokens", "Tokens per depth.", min=1)
    # the reference's pre-ln; "post-ln": after ln_pre
    token_position: str = option(
        "pre-ln",
        "--token-position",
        "pre-ln: after class token + patches + positions, before patch dropout and "
        "ln_pre (the reference); post-ln: after ln_pre.",
    )
    # the reference's nn.Embedding N(0, 1); 0.02 is the other usual
    token_init_std: float = option(
        1.0, "--token-init-std", "Std of the tokens' normal init (reference: 1.0)."
    )
    shuffled_weight: float = option(0.6, "--shuffled-weight", "Loss weight of shuffled batches.")
    hard_weight: float = option(0.4, "--hard-weight", "Loss weight of balanced hard batches.")
    lock_image: bool = option(
        True, "--lock-image/--unlock-image", "finetune: freeze the image tower."
    )
    lock_text: bool = option(False, "--lock-text/--unlock-text", "finetune: freeze the text tower.")
    save_every: int = option(0, "--save-every", "Checkpoint every N steps (0: at the end).", min=0)
    resume: str | None = option(None, "--resume", "Checkpoint to resume from.")
    seed: int = option(0, "--seed", "Seed.")
    workers: int = option(0, "--workers", "DataLoader worker processes.", min=0)
    max_steps: int = option(
        0, "--max-steps", "Stop after this many optimizer steps (0: the epochs decide).", min=0
    )
    amp: bool = option(
        True, "--amp/--fp32", "bf16 autocast on CUDA (--fp32: none; the CPU always runs fp32)."
    )
    device: str = option(
        None,
        "--device",
        "cpu, cuda, cuda:N (default: cuda if available).",
        default_factory=default_device,
    )
