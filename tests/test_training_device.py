"""The training code's device path, checked on the CPU: no temp-dir leak from
local-dir models, device options, loader settings for CUDA, throughput fields."""

from __future__ import annotations

import tempfile
from pathlib import Path

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
