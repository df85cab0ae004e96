"""Which open_clip weights a command loads, decided before anything is loaded.

The method uses ViT-B-32 with ``laion2b_s34b_b79k``; that is the default.
Random weights only when asked for with ``--pretrained none``; every report
then says so in its header (see :func:`weights_label`). A pretrained tag that
is not in the local Hugging Face cache while the hub cannot be reached (or
``HF_HUB_OFFLINE`` is set) is one clear error at once, not a minute of
retries and a traceback: a cached tag loads from its cached file with no
network call at all.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evokegraph.errors import UserInputError

# the method's pairing of model and weights (model_train.py, eval scripts)
DEFAULT_PRETRAINED = {"ViT-B-32": "laion2b_s34b_b79k"}
RANDOM = "none"
WEIGHT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")


@dataclass(frozen=True)
class Weights:
    """What to hand open_clip: ``pretrained`` (a file, a tag or None) and a label."""

    pretrained: str | None
    label: str  # "laion2b_s34b_b79k", "file:PATH" or "none (random weights)"
    preprocess: dict[str, Any]

    @property
    def random(self) -> bool:
        return self.pretrained is None


def resolve_weights(
    name: str, pretrained: str | None, local_weights: Path | None = None
) -> Weights:
    """Decide the weights for model ``name``; raise UserInputError at once if they cannot load."""
    if pretrained is not None and pretrained.strip().casefold() in (RANDOM, "random"):
        return Weights(None, "none (random weights)", {})
    if pretrained is None:
        if local_weights is not None:
            return Weights(str(local_weights), f"file:{local_weights}", {})
        pretrained = DEFAULT_PRETRAINED.get(name)
        if pretrained is None:
            raise UserInputError(
                f"open_clip model {name!r} has no default weights here; pass --pretrained TAG "
                "(see open_clip.list_pretrained()), a checkpoint file, or --pretrained none "
                "for random weights"
            )
    if Path(pretrained).expanduser().is_file():
        return Weights(str(Path(pretrained).expanduser()), f"file:{pretrained}", {})
    return _tag_weights(name, pretrained)


def _tag_weights(name: str, tag: str) -> Weights:
    import open_clip

    cfg = open_clip.get_pretrained_cfg(name, tag)
    if not cfg:
        raise UserInputError(
            f"{tag!r} is neither a file nor an open_clip pretrained tag of {name!r}; "
            f"tags: {', '.join(open_clip.list_pretrained_tags_by_model(name)[:8]) or 'none'}"
        )
    pre = {
        k2: cfg[k]
        for k, k2 in (
            ("mean", "image_mean"),
            ("std", "image_std"),
            ("interpolation", "image_interpolation"),
            ("resize_mode", "image_resize_mode"),
        )
        if cfg.get(k)
    }
    cached = _cached_file(cfg.get("hf_hub", ""))
    if cached is not None:
        return Weights(str(cached), tag, pre)
    reason = _offline_reason()
    if reason:
        raise UserInputError(
            f"weights {tag!r} for {name} are not in the local Hugging Face cache and {reason}; "
            "download them where there is network (they land in ~/.cache/huggingface), pass a "
            "checkpoint file with --pretrained PATH, or --pretrained none for random weights"
        )
    return Weights(tag, tag, {})


def _cached_file(hf_hub: str) -> Path | None:
    if not hf_hub:
        return None
    from huggingface_hub import try_to_load_from_cache

    repo, filename = (hf_hub[:-1], "") if hf_hub.endswith("/") else os.path.split(hf_hub)
    for f in (filename,) if filename else WEIGHT_FILES:
        hit = try_to_load_from_cache(repo, f)
        if isinstance(hit, str) and Path(hit).is_file():
            return Path(hit)
    return None


def _offline_reason(host: str = "huggingface.co", timeout: float = 3.0) -> str:
    """Why the hub cannot be used now ('' when it can)."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().casefold() in ("1", "true", "yes", "on"):
        return "HF_HUB_OFFLINE is set"
    endpoint = os.environ.get("HF_ENDPOINT", "")
    if endpoint:
        host = endpoint.split("://")[-1].split("/")[0].split(":")[0]
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return ""
    except OSError:
        return f"{host} cannot be reached"


def mark(model: Any, weights: Weights) -> None:
    """Remember on the model which weights it carries (for report headers)."""
    object.__setattr__(model, "_evokegraph_weights", weights.label)


def weights_label(model: Any) -> str:
    return str(getattr(model, "_evokegraph_weights", "unknown"))


def is_random(model: Any) -> bool:
    return weights_label(model).startswith("none")


def header(title: str, model: Any) -> str:
    """A report title that says which weights made the numbers."""
    return label_header(title, weights_label(model))


def label_header(title: str, label: str) -> str:
    if label.startswith("none"):
        return f"{title} — RANDOM WEIGHTS (--pretrained none): numbers are not meaningful"
    return f"{title} — weights {label}"


def title_for(title: str, name: str, pretrained: str | None) -> str:
    """A report title from the options alone (before a model is loaded)."""
    if pretrained is not None and pretrained.strip().casefold() in (RANDOM, "random"):
        return f"{title} — RANDOM WEIGHTS (--pretrained none): numbers are not meaningful"
    return f"{title} — weights {pretrained or DEFAULT_PRETRAINED.get(name, 'of ' + name)}"
