"""Training as the reference does it: balanced hard batches, the (image, depth)
mask, distance tokens where model_train.py puts them, weights resolution."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest
import torch
from torch import nn

from evokegraph.errors import UserInputError
from evokegraph.training.train import BalancedHardBatches, PairRow, false_negative_mask

torch.set_num_threads(1)

TINY = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16, "head_width": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


def rows_for(images: int = 7, elements: int = 3, literal: int = 5) -> list[PairRow]:
    """Each image: 5 literal captions (depth 0) and ``elements`` captions per depth 1..5."""
    out = []
    for i in range(images):
        out += [PairRow(f"im{i}.png", f"literal {i}.{k}", 0, f"img{i}") for k in range(literal)]
        for d in range(1, 6):
            out += [
                PairRow(f"im{i}.png", f"img{i} d{d} e{e}", d, f"img{i}") for e in range(elements)
            ]
    return out


@pytest.mark.parametrize("batch_size", [4, 8, 17, 64])
def test_no_hard_batch_repeats_an_image_depth(batch_size: int) -> None:
    rows = rows_for()
    sampler = BalancedHardBatches(rows, batch_size, seed=3)
    for epoch in range(3):
        sampler.epoch = epoch
        batches = list(sampler)
        for b in batches:
            keys = [(rows[i].image_id, rows[i].depth) for i in b]
            assert len(keys) == len(set(keys)), keys
            assert 1 < len(b) <= batch_size
        seen = Counter(i for b in batches for i in b)
        assert max(seen.values()) == 1 and len(seen) >= len(rows) - 1  # a lone last row may drop
        assert len(sampler) == len(batches)
    # the point of the hard stream: an image's depths share batches (hard negatives)
    assert any(max(Counter(rows[i].image_id for i in b).values()) > 1 for b in sampler)


def test_balanced_batches_are_round_robin_and_seeded() -> None:
    rows = rows_for(images=2, elements=3, literal=3)
    a = BalancedHardBatches(rows, 12, seed=1)
    b = BalancedHardBatches(rows, 12, seed=1)
    assert list(a) == list(b)
    # round r holds one caption of every (image, depth): 2 images x 6 depths = 12 = one batch
    for batch in a:
        assert len({(rows[i].image_id, rows[i].depth) for i in batch}) == 12
    a.epoch = 1
    assert list(a) != list(b)


def test_mask_covers_shared_image_depth_not_other_depths() -> None:
    caps = ["a dog", "loyalty", "a bone", "loyalty!", "the sea"]
    ids = ["x", "x", "x", "y", "y"]
    depths = [1, 1, 2, 3, 1]
    m = false_negative_mask(caps, ids, depths)
    assert m[0, 1] and m[1, 0]  # same image, same depth, different captions
    assert not m[0, 2] and not m[2, 0]  # same image, other depth: a true hard negative
    assert m[1, 3] and m[3, 1]  # same caption across images
    assert not m[4, 0] and not m.diagonal().any()


# -- distance tokens against the reference's image encoding ---------------------------
@pytest.fixture
def tiny_clip(tmp_path: Path) -> nn.Module:
    from evokegraph.models.clip import load_open_clip

    d = tmp_path / "tiny"
    d.mkdir()
    (d / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY}))
    torch.manual_seed(0)
    clip, _, _ = load_open_clip(f"local-dir:{d}", "none")
    return clip.eval()


class ReferenceStyleEncoder(nn.Module):
    """A port in spirit of model_train.py's CLIPWrapper.encode_image, mode 'third':
    ``num_embeds`` embedding tables of ``num_tasks`` rows, task = distance - 1,
    tokens appended after cls + patches + positions, then patch dropout, ln_pre,
    transformer, pool, projection."""

    def __init__(self, clip: nn.Module, num_tasks: int = 5, num_embeds: int = 5) -> None:
        super().__init__()
        self.clip = clip
        width = clip.visual.conv1.out_channels
        self.task_embeddings = nn.ModuleList(
            [nn.Embedding(num_tasks, width) for _ in range(num_embeds)]
        )

    def forward(self, images: torch.Tensor, tasks: torch.Tensor) -> torch.Tensor:
        v = self.clip.visual
        x = v.conv1(images).flatten(2).transpose(1, 2)
        cls = v.class_embedding.reshape(1, 1, -1).repeat(x.shape[0], 1, 1)
        x = torch.cat([cls, x], 1) + v.positional_embedding
        task = torch.stack([e(tasks) for e in self.task_embeddings], 1)
        x = torch.cat([x, task], 1)
        x = v.ln_pre(v.patch_dropout(x))
        x = v.ln_post(v.transformer(x))
        return x[:, 0] @ v.proj


def test_distance_tokens_match_the_reference_encoding(tiny_clip: nn.Module) -> None:
    from evokegraph.training.convert import tokens_from_reference
    from evokegraph.training.model import DistanceTokenCLIP

    torch.manual_seed(1)
    with torch.no_grad():  # a trained ln_pre is no identity; a fresh one nearly is on N(0, 1)
        tiny_clip.visual.ln_pre.weight.uniform_(0.5, 2.0)
        tiny_clip.visual.ln_pre.bias.normal_(0, 0.5)
    ref = ReferenceStyleEncoder(tiny_clip)
    ours = DistanceTokenCLIP(tiny_clip, n_tokens=5)
    state = {f"task_embeddings.{k}.weight": e.weight for k, e in enumerate(ref.task_embeddings)}
    with torch.no_grad():
        ours.distance_tokens.copy_(tokens_from_reference(state, ours.distance_tokens))
    x = torch.rand(3, 3, 32, 32)
    distance = torch.tensor([1, 3, 5])
    with torch.no_grad():
        want = nn.functional.normalize(ref(x, distance - 1), dim=-1)
        got = ours.encode_image(x, distance)
        assert torch.allclose(got, want, atol=1e-5)
        # the older variant (tokens after ln_pre) is a different function of the same tokens
        post = DistanceTokenCLIP(tiny_clip, n_tokens=5, position="post-ln")
        post.distance_tokens.copy_(ours.distance_tokens)
        assert not torch.allclose(post.encode_image(x, distance), want, atol=1e-3)


def test_token_init_and_depth_bounds(tiny_clip: nn.Module) -> None:
    from evokegraph.training.model import DistanceTokenCLIP

    torch.manual_seed(0)
    ref_init = DistanceTokenCLIP(tiny_clip)
    small = DistanceTokenCLIP(tiny_clip, init_std=0.02)
    assert 0.8 < float(ref_init.distance_tokens.detach().std()) < 1.2
    assert float(small.distance_tokens.detach().std()) < 0.03
    with pytest.raises(UserInputError, match=r"depths \[6\] have no distance tokens"):
        ref_init.encode_image(torch.rand(1, 3, 32, 32), torch.tensor([6]))
    with pytest.raises(UserInputError, match="unknown distance-token position"):
        DistanceTokenCLIP(tiny_clip, position="middle")


def test_training_refuses_depths_above_five(tmp_path: Path) -> None:
    from evokegraph.training.train import TrainConfig, train

    data = tmp_path / "pairs.csv"
    data.write_text("filepath\ttitle\tdepth\timage_id\na.png\tdeep\t7\ta\n")
    with pytest.raises(UserInputError, match=r"depths \[7\].*0\.\.5"):
        train(TrainConfig(data=str(data), model="ViT-B-32", device="cpu"))


# -- which weights ----------------------------------------------------------------------
def test_default_weights_offline_fail_at_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import huggingface_hub.constants as hc

    from evokegraph.models.clip import resolve_weights

    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t0 = time.perf_counter()
    with pytest.raises(UserInputError, match="laion2b_s34b_b79k.*not in the local"):
        resolve_weights("ViT-B-32", None)
    assert time.perf_counter() - t0 < 2.0
    assert resolve_weights("ViT-B-32", "none").random
    with pytest.raises(UserInputError, match="no default weights"):
        resolve_weights("RN50", None)
    with pytest.raises(UserInputError, match="neither a file nor"):
        resolve_weights("ViT-B-32", "no-such-tag")


def test_cached_default_weights_load_from_the_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import huggingface_hub.constants as hc

    from evokegraph.models.clip import resolve_weights

    snap = tmp_path / "models--laion--CLIP-ViT-B-32-laion2B-s34B-b79K"
    (snap / "refs").mkdir(parents=True)
    (snap / "refs" / "main").write_text("abc123")
    (snap / "snapshots" / "abc123").mkdir(parents=True)
    (snap / "snapshots" / "abc123" / "open_clip_model.safetensors").write_bytes(b"x")
    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    w = resolve_weights("ViT-B-32", None)
    assert w.label == "laion2b_s34b_b79k" and w.pretrained.endswith("open_clip_model.safetensors")
    assert w.preprocess["image_interpolation"] == "bicubic"


def test_random_weights_are_flagged(tmp_path: Path) -> None:
    from evokegraph.models.clip import header, is_random, load_open_clip

    d = tmp_path / "w"
    d.mkdir()
    (d / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY}))
    with pytest.raises(UserInputError, match="no open_clip weights file.*--pretrained none"):
        load_open_clip(f"local-dir:{d}")
    clip, _, _ = load_open_clip(f"local-dir:{d}", "none")
    assert is_random(clip) and "RANDOM WEIGHTS" in header("retrieval", clip)


def test_converted_reference_checkpoint_loads_as_pre_ln(
    tiny_clip: nn.Module, tmp_path: Path
) -> None:
    from evokegraph.training.convert import convert_reference_checkpoint
    from evokegraph.training.model import DistanceTokenCLIP
    from evokegraph.training.train import model_from_checkpoint

    torch.manual_seed(2)
    ref = ReferenceStyleEncoder(tiny_clip)
    state = {f"clip_model.{k}": v for k, v in tiny_clip.state_dict().items()}
    state |= {f"task_embeddings.{k}.weight": e.weight for k, e in enumerate(ref.task_embeddings)}
    torch.save(state, tmp_path / "ref.pt")
    out = convert_reference_checkpoint(tmp_path / "ref.pt", tmp_path / "ours.pt")
    assert out["depths"] == 6 and out["tokens"] == 5
    model = model_from_checkpoint(tiny_clip, str(tmp_path / "ours.pt"))
    assert isinstance(model, DistanceTokenCLIP) and model.position == "pre-ln"
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        want = nn.functional.normalize(ref(x, torch.tensor([0, 4])), dim=-1)
        assert torch.allclose(model.encode_image(x, torch.tensor([1, 5])), want, atol=1e-5)
    torch.save({"foo": torch.zeros(1)}, tmp_path / "bad.pt")
    with pytest.raises(UserInputError, match="not a reference checkpoint"):
        convert_reference_checkpoint(tmp_path / "bad.pt", tmp_path / "x.pt")


def test_pre_ln_training_round_trip(tmp_path: Path) -> None:
    from PIL import Image

    from evokegraph.models.clip import load_open_clip
    from evokegraph.training.train import TrainConfig, model_from_checkpoint, train

    d = tmp_path / "tiny"
    d.mkdir()
    (d / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY}))
    lines = ["filepath\ttitle\tdepth\timage_id"]
    for i, colour in enumerate(["red", "blue", "green"]):
        Image.new("RGB", (32, 32), colour).save(tmp_path / f"{colour}.png")
        for depth in range(3):
            for e in range(2):
                lines.append(f"{tmp_path / colour}.png\t{colour} {depth} {e}\t{depth}\t{i}")
    (tmp_path / "pairs.csv").write_text("\n".join(lines) + "\n")
    result = train(
        TrainConfig(
            data=str(tmp_path / "pairs.csv"),
            model=f"local-dir:{d}",
            pretrained="none",
            out=str(tmp_path / "run"),
            batch_size=4,
            device="cpu",
        )
    )
    assert result["steps"] > 0 and "RANDOM WEIGHTS" in result["warning"]
    clip, _, _ = load_open_clip(f"local-dir:{d}", "none")
    assert model_from_checkpoint(clip, result["checkpoint"]).position == "pre-ln"
