"""open_clip in one place: which weights, loading, image-text scoring.

Every stage that needs CLIP comes here: ingest's grounding, captioning's
abstraction report, training and evaluation.

* :func:`resolve_weights` decides which weights a command loads, before
  anything is loaded. The method uses ViT-B-32 with ``laion2b_s34b_b79k``;
  that is the default. Random weights only when asked for with
  ``--pretrained none``; every report then says so in its header (see
  :func:`weights_label`). A pretrained tag that is not in the local Hugging
  Face cache while the hub cannot be reached (or ``HF_HUB_OFFLINE`` is set) is
  one clear error at once, not a minute of retries and a traceback: a cached
  tag loads from its cached file with no network call at all.
* :func:`load_open_clip` returns (model, preprocess, tokenizer) for a name or
  a ``local-dir:PATH``; the model remembers its weights label.
* :class:`ClipScorer` embeds PIL images and texts (batched, L2-normalised)
  and gives image-text cosines.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evokegraph.errors import ModelError, UserInputError

if TYPE_CHECKING:
    import torch
    from PIL import Image as PILImage

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


def load_open_clip(
    name: str, pretrained: str | None = None, device: str = "cpu"
) -> tuple[Any, Any, Any]:
    """(model, preprocess, tokenizer) for an open_clip name (``ViT-B-32``) or a
    ``local-dir:PATH`` holding ``open_clip_config.json`` (+ optional weights).

    ``pretrained``: None for the method's default (laion2b_s34b_b79k for
    ViT-B-32; a local-dir's own weights file), a tag, a checkpoint path, or
    ``none`` for random weights. The model remembers which (see
    :func:`weights_label`)."""
    import json

    import open_clip

    local = None
    if name.startswith("local-dir:"):
        folder = Path(name.removeprefix("local-dir:"))
        cfg_file = folder / "open_clip_config.json"
        if not cfg_file.is_file():
            raise UserInputError(f"{folder} has no open_clip_config.json; give a folder with one")
        cfg = json.loads(cfg_file.read_text())
        model_cfg = cfg.get("model_cfg", cfg)
        name = f"local-{folder.name}"
        _add_config(name, model_cfg)
        local = next(
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
        if local is None and pretrained is None:
            raise UserInputError(
                f"{folder} holds no open_clip weights file; add one, pass --pretrained PATH, "
                "or --pretrained none for random weights"
            )
    weights = resolve_weights(name, pretrained, local)
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            name, pretrained=weights.pretrained, device=device, **weights.preprocess
        )
    except RuntimeError as exc:
        raise UserInputError(
            f"cannot load open_clip model {name!r} (pretrained={weights.label!r}): "
            f"{str(exc).splitlines()[0]}; offline, pass a local checkpoint path with "
            "--pretrained or a local-dir:PATH model"
        ) from None
    mark(model, weights)
    return model, preprocess, open_clip.get_tokenizer(name)


def _add_config(name: str, cfg: dict[str, Any]) -> None:
    """Register model config ``cfg`` as ``name`` with open_clip, leaving no files behind.

    open_clip reads the JSON when it is added and keeps the config in memory,
    so the folder is removed at once (and its path dropped from open_clip's
    search list, where later rescans would skip it anyway)."""
    import json
    import tempfile

    import open_clip

    with tempfile.TemporaryDirectory(prefix="evokegraph-clip-") as tmp:
        d = Path(tmp)
        (d / f"{name}.json").write_text(json.dumps(cfg))
        open_clip.add_model_config(d)
        paths = getattr(open_clip.factory, "_MODEL_CONFIG_PATHS", None)
        if isinstance(paths, list) and d in paths:
            paths.remove(d)
    if open_clip.get_model_config(name) is None:
        raise ModelError(f"open_clip did not register the model config {name!r}")


class ClipScorer:
    """Image-text cosines with one open_clip model (PIL images in, floats out)."""

    def __init__(
        self, model: Any, preprocess: Any, tokenizer: Any, device: str = "cpu", batch_size: int = 32
    ) -> None:
        self.model = model.eval()
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self.device = device
        self.batch_size = max(1, batch_size)

    @classmethod
    def load(
        cls,
        name: str,
        pretrained: str | None = None,
        device: str | None = None,
        batch_size: int = 32,
    ) -> ClipScorer:
        """Load ``name`` (see :func:`load_open_clip`); ``device`` None: CUDA if there is one."""
        import torch

        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        model, preprocess, tokenizer = load_open_clip(name, pretrained, device)
        return cls(model, preprocess, tokenizer, device, batch_size)

    @property
    def weights(self) -> str:
        """Which weights the scores come from (see :func:`weights_label`)."""
        return weights_label(self.model)

    def encode_images(self, images: Sequence[PILImage.Image]) -> torch.Tensor:
        """One L2-normalised float32 row per image (decoded RGB, as ingest decodes them)."""
        import torch

        out = []
        with torch.no_grad():
            for i in range(0, len(images), self.batch_size):
                px = torch.stack([self.preprocess(im) for im in images[i : i + self.batch_size]])
                out.append(self.model.encode_image(px.to(self.device), normalize=True).float())
        return torch.cat(out) if out else torch.empty(0, 0)

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """One L2-normalised float32 row per text."""
        import torch

        out = []
        with torch.no_grad():
            for i in range(0, len(texts), self.batch_size):
                toks = self.tokenizer(list(texts[i : i + self.batch_size])).to(self.device)
                out.append(self.model.encode_text(toks, normalize=True).float())
        return torch.cat(out) if out else torch.empty(0, 0)

    def cosines(self, images: Sequence[PILImage.Image], texts: Sequence[str]) -> list[float]:
        """The cosine of each image with the text at the same position."""
        if len(images) != len(texts):
            raise ModelError(f"{len(images)} images but {len(texts)} texts; pair them one to one")
        if not images:
            return []
        return (self.encode_images(images) * self.encode_texts(texts)).sum(-1).tolist()
