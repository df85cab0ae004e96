"""Import a reference checkpoint (model_train.py's ``CLIPWrapper`` state dict).

The reference keeps ``num_embeds`` embedding tables ``task_embeddings.K.weight``
of shape [num_tasks, width]; task ``t`` is distance ``t + 1`` (distances
1..5). Ours is one tensor ``distance_tokens`` [depth, token, width] with a row
for depth 0 too: token K of depth ``t + 1`` is row ``t`` of table K. The
reference has no depth-0 tokens; the converted checkpoint leaves them zero and
says so in its config. The frozen CLIP weights in the reference file are not
copied (they are the public laion2b_s34b_b79k ViT-B-32 weights).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from evokegraph.errors import UserInputError

KEY = re.compile(r"^(?:module\.)?task_embeddings\.(\d+)\.weight$")


def reference_tables(state: Mapping[str, torch.Tensor]) -> list[torch.Tensor]:
    """The task-embedding tables of a reference state dict, in token order."""
    tables = {int(m.group(1)): v for k, v in state.items() if (m := KEY.match(k))}
    if not tables or sorted(tables) != list(range(len(tables))):
        raise UserInputError(
            "not a reference checkpoint: expected task_embeddings.0.weight, "
            "task_embeddings.1.weight, ... (model_train.py's CLIPWrapper)"
        )
    return [tables[k] for k in range(len(tables))]


def tokens_from_reference(
    state: Mapping[str, torch.Tensor], like: torch.Tensor | None = None
) -> torch.Tensor:
    """``distance_tokens`` [1 + num_tasks, num_embeds, width]; depth 0 from ``like`` or zero."""
    tables = reference_tables(state)
    stacked = torch.stack([t.detach().float() for t in tables], dim=1)  # [task, token, width]
    tokens = torch.zeros(stacked.shape[0] + 1, *stacked.shape[1:])
    if like is not None:
        if like.shape[1:] != stacked.shape[1:] or like.shape[0] < tokens.shape[0]:
            raise UserInputError(
                f"reference tokens {tuple(stacked.shape)} do not fit a model with "
                f"distance tokens {tuple(like.shape)}"
            )
        tokens = like.detach().clone().float()
    tokens[1 : stacked.shape[0] + 1] = stacked
    return tokens


def convert_reference_checkpoint(src: str | Path, dst: str | Path) -> dict[str, Any]:
    """Write an evokegraph checkpoint (distance tokens, pre-ln) from a reference one."""
    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise UserInputError(f"no reference checkpoint at {src}")
    try:
        state = torch.load(src, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user error
        raise UserInputError(f"{src} is not a readable torch state dict: {exc}") from None
    if isinstance(state, Mapping) and "state_dict" in state:
        state = state["state_dict"]
    tokens = tokens_from_reference(state)
    config = {
        "method": "distance-tokens",
        "model": "ViT-B-32",
        "pretrained": "laion2b_s34b_b79k",
        "distance_tokens": tokens.shape[1],
        "token_position": "pre-ln",
        "converted_from": str(src),
        "depth0": "zero: the reference has no depth-0 tokens",
    }
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(".tmp")
    torch.save({"trainable": {"distance_tokens": tokens}, "step": 0, "config": config}, tmp)
    tmp.replace(dst)
    return {"checkpoint": str(dst), "depths": tokens.shape[0], "tokens": tokens.shape[1]}
