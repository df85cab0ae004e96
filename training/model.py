"""Distance-conditioned CLIP: a frozen open_clip model plus learned distance tokens.

The published method (``model_train.py``, mode ``third``): for each depth of
abstraction, ``n_tokens`` learned vectors of the vision width are appended to
the image tokens after the patch embedding, class token and positional
embedding, and *before* patch dropout and ``ln_pre``; the pooled image
embedding then depends on the depth asked for. The reference initialises the
tokens N(0, 1) (``nn.Embedding``'s default). ``position="post-ln"`` keeps the
earlier variant of this project (tokens after ``ln_pre``, usually with
``init_std=0.02``). Only the distance tokens train; every open_clip weight
stays frozen. Depth 0 (the literal caption) has tokens too; the reference
has tokens for distances 1..5 only (see :mod:`evokegraph.training.convert`).
The open_clip model itself comes from :func:`evokegraph.models.clip.load_open_clip`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from evokegraph.errors import UserInputError
from evokegraph.levels import MAX_EVOKES_DISTANCE

POSITIONS = ("pre-ln", "post-ln")


class DistanceTokenCLIP(nn.Module):
    """A frozen open_clip CLIP whose image embedding is conditioned on depth."""

    # open_clip ships no type information (no py.typed): its model is Any, as
    # load_open_clip returns it; typed as nn.Module, every tower would read as
    # ``Tensor | Module`` (nn.Module.__getattr__).
    clip: Any

    def __init__(
        self,
        clip: Any,
        n_tokens: int = 5,
        max_depth: int = MAX_EVOKES_DISTANCE,
        position: str = "pre-ln",
        init_std: float = 1.0,
    ) -> None:
        super().__init__()
        visual = clip.visual
        if not hasattr(visual, "_embeds") or not hasattr(visual, "_pool"):
            raise UserInputError("distance tokens need an open_clip VisionTransformer image tower")
        if position not in POSITIONS:
            raise UserInputError(
                f"unknown distance-token position {position!r}; use {' or '.join(POSITIONS)}"
            )
        self.clip = clip
        for p in self.clip.parameters():
            p.requires_grad_(False)
        width = visual.conv1.out_channels
        self.distance_tokens = nn.Parameter(torch.randn(max_depth + 1, n_tokens, width) * init_std)
        self.max_depth = max_depth
        self.position = position

    @property
    def logit_scale(self) -> torch.Tensor:
        return self.clip.logit_scale

    def check_depths(self, depths: torch.Tensor) -> None:
        if len(depths) and (int(depths.min()) < 0 or int(depths.max()) > self.max_depth):
            bad = sorted({int(d) for d in depths.tolist() if not 0 <= d <= self.max_depth})
            raise UserInputError(
                f"depths {bad} have no distance tokens (this model has 0..{self.max_depth}); "
                f"export only depths 0..{self.max_depth} (`evokegraph export --depth ...`)"
            )

    def encode_image(
        self, images: torch.Tensor, depths: torch.Tensor, normalize: bool = True
    ) -> torch.Tensor:
        self.check_depths(depths)
        v = self.clip.visual
        if self.position == "post-ln":
            x = v._embeds(images)  # patches + class token + positions, patch dropout, ln_pre
            x = torch.cat([x, self.distance_tokens[depths].to(x.dtype)], dim=1)
        else:
            x = _patch_tokens(v, images)  # patches + class token + positions
            x = torch.cat([x, self.distance_tokens[depths].to(x.dtype)], dim=1)
            x = v.ln_pre(v.patch_dropout(x))
        x = v.transformer(x)
        pooled, _ = v._pool(x)
        if v.proj is not None:
            pooled = pooled @ v.proj
        return nn.functional.normalize(pooled, dim=-1) if normalize else pooled

    def encode_text(self, tokens: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        return self.clip.encode_text(tokens, normalize=normalize)

    def forward(
        self, images: torch.Tensor, depths: torch.Tensor, tokens: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Both normalised embeddings; training calls this (through DDP when distributed)."""
        return self.encode_image(images, depths), self.encode_text(tokens)


def _patch_tokens(v: Any, images: torch.Tensor) -> torch.Tensor:
    """open_clip's VisionTransformer._embeds up to (not including) patch dropout and ln_pre."""
    x = v.conv1(images)
    x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
    cls = v.class_embedding.view(1, 1, -1).expand(x.shape[0], -1, -1).to(x.dtype)
    x = torch.cat([cls, x], dim=1)
    return x + v.positional_embedding.to(x.dtype)


class PlainCLIP(nn.Module):
    """Plain fine-tuning: open_clip's model, towers optionally locked."""

    clip: Any  # open_clip's CLIP, untyped (see DistanceTokenCLIP)

    def __init__(self, clip: Any, lock_image: bool = True, lock_text: bool = False) -> None:
        super().__init__()
        self.clip = clip
        if lock_image:
            clip.lock_image_tower(unlocked_groups=0, freeze_bn_stats=True)
        if lock_text:
            clip.lock_text_tower(unlocked_layers=0, freeze_layer_norm=True)

    @property
    def logit_scale(self) -> torch.Tensor:
        return self.clip.logit_scale

    def encode_image(
        self, images: torch.Tensor, depths: torch.Tensor, normalize: bool = True
    ) -> torch.Tensor:
        return self.clip.encode_image(images, normalize=normalize)

    def encode_text(self, tokens: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        return self.clip.encode_text(tokens, normalize=normalize)

    def forward(
        self, images: torch.Tensor, depths: torch.Tensor, tokens: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Both normalised embeddings (see :meth:`DistanceTokenCLIP.forward`)."""
        return self.encode_image(images, depths), self.encode_text(tokens)


CLIPModel = DistanceTokenCLIP | PlainCLIP
"""What training builds: either model answers encode_image(images, depths) and encode_text."""
