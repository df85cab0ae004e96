"""Distance-conditioned CLIP: a frozen open_clip model plus learned distance tokens.

The published method: for each depth of abstraction, ``n_tokens`` learned
vectors of the vision width are appended to the image tokens (after the
patch embedding, class token, positional embedding and ``ln_pre``) before the
vision transformer, so the pooled image embedding depends on the depth asked
for. Only the distance tokens train; every open_clip weight stays frozen.
Depth 0 (the literal caption) has tokens too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from evokegraph.errors import UserInputError


def load_open_clip(
    name: str, pretrained: str | None = None, device: str = "cpu"
) -> tuple[Any, Any, Any]:
    """(model, preprocess, tokenizer) for an open_clip name (``ViT-B-32``), a
    ``local-dir:PATH`` holding ``open_clip_config.json`` (+ optional weights),
    with ``pretrained`` a tag (``laion2b_s34b_b79k``) or a checkpoint path."""
    import json

    import open_clip

    if name.startswith("local-dir:"):
        folder = Path(name.removeprefix("local-dir:"))
        cfg_file = folder / "open_clip_config.json"
        if not cfg_file.is_file():
            raise UserInputError(f"{folder} has no open_clip_config.json; give a folder with one")
        cfg = json.loads(cfg_file.read_text())
        model_cfg = cfg.get("model_cfg", cfg)
        name = f"local-{folder.name}"
        _add_config(name, model_cfg)
        weights = next(
            (
                p
                for p in (
                    folder / "open_clip_model.safetensors",
                    folder / "open_clip_pytorch_model.bin",
                )
                if p.is_file()
            ),
            None,
        )
        pretrained = pretrained or (str(weights) if weights else None)
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            name, pretrained=pretrained, device=device
        )
    except RuntimeError as exc:
        raise UserInputError(
            f"cannot load open_clip model {name!r} (pretrained={pretrained!r}): {str(exc).splitlines()[0]}; "
            "offline, pass a local checkpoint path with --pretrained or a local-dir:PATH model"
        ) from None
    return model, preprocess, open_clip.get_tokenizer(name)


def _add_config(name: str, cfg: dict[str, Any]) -> None:
    import json
    import tempfile

    import open_clip

    d = Path(tempfile.mkdtemp(prefix="evokegraph-clip-"))
    (d / f"{name}.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(d)


class DistanceTokenCLIP(nn.Module):
    """A frozen open_clip CLIP whose image embedding is conditioned on depth."""

    def __init__(self, clip: nn.Module, n_tokens: int = 5, max_depth: int = 5) -> None:
        super().__init__()
        visual = clip.visual
        if not hasattr(visual, "_embeds") or not hasattr(visual, "_pool"):
            raise UserInputError("distance tokens need an open_clip VisionTransformer image tower")
        self.clip = clip
        for p in self.clip.parameters():
            p.requires_grad_(False)
        width = visual.conv1.out_channels
        self.distance_tokens = nn.Parameter(torch.randn(max_depth + 1, n_tokens, width) * 0.02)
        self.max_depth = max_depth

    @property
    def logit_scale(self) -> torch.Tensor:
        return self.clip.logit_scale

    def encode_image(
        self, images: torch.Tensor, depths: torch.Tensor, normalize: bool = True
    ) -> torch.Tensor:
        v = self.clip.visual
        depths = depths.clamp(0, self.max_depth)
        x = v._embeds(images)  # patches + class token + positions, after ln_pre
        x = torch.cat([x, self.distance_tokens[depths].to(x.dtype)], dim=1)
        x = v.transformer(x)
        pooled, _ = v._pool(x)
        if v.proj is not None:
            pooled = pooled @ v.proj
        return nn.functional.normalize(pooled, dim=-1) if normalize else pooled

    def encode_text(self, tokens: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        return self.clip.encode_text(tokens, normalize=normalize)


class PlainCLIP(nn.Module):
    """Plain fine-tuning: open_clip's model, towers optionally locked."""

    def __init__(self, clip: nn.Module, lock_image: bool = True, lock_text: bool = False) -> None:
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
