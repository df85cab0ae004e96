"""Export, retrieval metrics, distance-token CLIP, training on a real tiny task."""

from __future__ import annotations

import csv
import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from evokegraph.errors import UserInputError
from evokegraph.graph.ladybug_store import LadybugStore
from evokegraph.records import Caption, GraphBatch, ImageEntry, ImageRecord, PathStep
from evokegraph.training.evaluate import ranks_of, retrieval
from evokegraph.training.export import export

COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 200, 40),
    "blue": (30, 40, 220),
    "yellow": (230, 220, 30),
}
TINY = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16, "head_width": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


# -- metrics ------------------------------------------------------------------
def test_ranks_hand_computed_with_ties() -> None:
    sim = np.array([[0.9, 0.1, 0.9], [0.2, 0.8, 0.1], [0.5, 0.5, 0.5]])
    # row 0: its image (0) ties with image 2 -> pessimistic rank 2
    # row 1: best -> 1; row 2: a three-way tie -> 3
    assert ranks_of(sim, [[0], [1], [2]]).tolist() == [2, 1, 3]
    assert ranks_of(sim, [[0, 2], [0, 1], [1]]).tolist() == [2, 1, 3]


def test_retrieval_both_directions() -> None:
    img = np.eye(3)
    txt = np.array([[1.0, 0, 0], [0, 0, 1.0], [0, 1.0, 0], [0, 0.9, 0.1]])
    t2i, i2t = retrieval(img, txt, [0, 2, 1, 2])  # text 3 belongs to image 2 but looks like 1
    assert t2i.row()["R@1"] == 0.75 and t2i.mean_rank == pytest.approx((1 + 1 + 1 + 2) / 4)
    assert i2t.queries == 3 and i2t.recall[1] == 1.0  # image 2's best text (1) is first
    assert t2i.median_rank == 1.0


# -- export -------------------------------------------------------------------
def kb_with_captions(kb: LadybugStore, tmp_path: Path, n: int = 6) -> None:
    entries, captions = [], []
    for i in range(n):
        p = tmp_path / f"im{i}.jpg"
        Image.new("RGB", (16, 16), (i * 40, 0, 0)).save(p)
        image_id = f"{i:064x}"
        entries.append(
            ImageEntry(image=ImageRecord(id=image_id, uris=[str(p)], captions=[f"picture {i}"]))
        )
        for d in (1, 4):
            step = PathStep(kind="EVOKES", source="x", target=f"c{d}", distance=d, weight=0.5)
            captions.append(
                Caption(
                    image_id=image_id,
                    text=f"idea {d} of {i}",
                    depth=d,
                    realizer="template",
                    path=[step],
                    uses=[f"c{d}"],
                    weight=0.2 * d,
                )
            )
        captions.append(
            Caption(
                image_id=image_id,
                text=f"Idea 1 of {i}.",
                depth=1,
                realizer="template",
                path=[],
                weight=0.2,
            )
        )  # the same caption again
    kb.write(GraphBatch(images=entries))
    kb.write(GraphBatch(captions=captions))


def test_export_csv_parquet_webdataset(kb: LadybugStore, tmp_path: Path) -> None:
    kb_with_captions(kb, tmp_path)
    ratios = {"train": 0.5, "test": 0.5}
    s = export(kb, tmp_path / "csv", "csv", ratios=ratios)
    assert sum(s.counts.values()) == 6 * 3  # literal + depth 1 + depth 4; the duplicate dropped
    seen: dict[str, str] = {}
    for f in s.files:
        rows = list(csv.DictReader(f.open(), delimiter="\t"))
        assert list(rows[0])[:2] == ["filepath", "title"]  # open_clip's keys
        for r in rows:
            assert seen.setdefault(r["image_id"], f.stem) == f.stem  # no image in two splits
    s = export(kb, tmp_path / "pq", "parquet", ratios=ratios, depths=[4], min_weight=0.5)
    import pyarrow.parquet as pq

    t = pq.read_table(s.files[0]).to_pylist()
    assert (
        len(t) == 6
        and {r["depth"] for r in t} == {4}
        and json.loads(t[0]["path"])[0]["target"] == "c4"
    )
    s = export(kb, tmp_path / "wds", "webdataset", ratios={"train": 1.0}, shard_size=4)
    assert [f.name for f in s.files] == ["train-000000.tar", "train-000001.tar"]
    import webdataset as wds

    samples = list(wds.WebDataset([str(f) for f in s.files], shardshuffle=False))
    assert len(samples) == 6
    meta = json.loads(samples[0]["json"])
    assert set(meta["captions"]) == {"0", "1", "4"} and samples[0]["txt"].decode().startswith(
        "picture"
    )
    Image.open(io.BytesIO(samples[0]["jpg"])).verify()
    with tarfile.open(s.files[0]) as tf:
        assert len(tf.getnames()) == 4 * 3


# -- models -------------------------------------------------------------------
@pytest.fixture
def tiny_model_dir(tmp_path: Path) -> str:
    d = tmp_path / "tiny"
    d.mkdir()
    (d / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY}))
    from evokegraph.models.clip import load_open_clip

    torch.manual_seed(0)  # the folder's own (random) weights, so no --pretrained is needed
    clip, _, _ = load_open_clip(f"local-dir:{d}", "none")
    torch.save(clip.state_dict(), d / "open_clip_pytorch_model.bin")
    return f"local-dir:{d}"


def colour_pairs(tmp_path: Path, per_colour: int = 4) -> Path:
    rng = np.random.default_rng(0)
    rows = []
    for name, rgb in COLOURS.items():
        for k in range(per_colour):
            px = np.clip(np.array(rgb) + rng.integers(-20, 20, (32, 32, 3)), 0, 255).astype(
                np.uint8
            )
            p = tmp_path / f"{name}{k}.png"
            Image.fromarray(px).save(p)
            rows.append((str(p), f"a {name} square", 0, f"{name}{k}"))
    out = tmp_path / "pairs.csv"
    with out.open("w", newline="") as f:
        w = csv.writer(f, delimiter="\t")
        w.writerow(["filepath", "title", "depth", "weight", "image_id"])
        for p, t, d, i in rows:
            w.writerow([p, t, d, 1.0, i])
    return out


def test_distance_tokens_condition_the_embedding_and_freeze_clip(tiny_model_dir: str) -> None:
    from evokegraph.models.clip import load_open_clip
    from evokegraph.training.model import DistanceTokenCLIP

    torch.manual_seed(0)
    clip, _, _ = load_open_clip(tiny_model_dir)
    m = DistanceTokenCLIP(clip, n_tokens=3)
    x = torch.rand(2, 3, 32, 32)
    e1 = m.encode_image(x, torch.tensor([1, 1]))
    e5 = m.encode_image(x, torch.tensor([5, 5]))
    assert not torch.allclose(e1, e5)
    trainable = [n for n, p in m.named_parameters() if p.requires_grad]
    assert trainable == ["distance_tokens"]
    frozen = {k: v.clone() for k, v in clip.state_dict().items()}
    opt = torch.optim.Adam([m.distance_tokens], lr=0.1)
    loss = (m.encode_image(x, torch.tensor([2, 3])) ** 2).sum() - e1.detach().sum()
    loss.backward()
    opt.step()
    assert all(torch.equal(frozen[k], v) for k, v in clip.state_dict().items())
    assert not torch.allclose(m.encode_image(x, torch.tensor([2, 2])), e1)


def test_training_learns_colours_and_resumes(tiny_model_dir: str, tmp_path: Path) -> None:
    from evokegraph.training.evaluate import evaluate_model
    from evokegraph.training.train import TrainConfig, main, train

    data = colour_pairs(tmp_path)
    before = evaluate_model(tiny_model_dir, str(data))
    cfg = TrainConfig(
        data=str(data),
        model=tiny_model_dir,
        method="finetune",
        lock_image=False,
        out=str(tmp_path / "run"),
        epochs=25,
        lr=3e-3,
        batch_size=8,
        device="cpu",
    )
    result = train(cfg)
    after = evaluate_model(tiny_model_dir, str(data), checkpoint=result["checkpoint"])
    r_before = {r["direction"]: r["R@1"] for r in before}
    r_after = {r["direction"]: r["R@1"] for r in after}
    assert r_after["image->text"] > r_before["image->text"]
    assert r_after["image->text"] >= 0.75  # 4 colours: only a colour-blind model fails
    log = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == result["steps"] and log[-1]["loss"] < log[0]["loss"]
    # resume from the checkpoint: the step count goes on, through main(argv)
    again = main(
        [
            "--data",
            str(data),
            "--model",
            tiny_model_dir,
            "--method",
            "finetune",
            "--no-lock-image",
            "--out",
            str(tmp_path / "run2"),
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--resume",
            result["checkpoint"],
            "--device",
            "cpu",
        ]
    )
    assert again["steps"] > result["steps"]


def test_distance_token_training_runs_and_saves(tiny_model_dir: str, tmp_path: Path) -> None:
    from evokegraph.models.clip import load_open_clip
    from evokegraph.training.model import DistanceTokenCLIP
    from evokegraph.training.train import TrainConfig, load_checkpoint, train

    data = colour_pairs(tmp_path, per_colour=2)
    result = train(
        TrainConfig(
            data=str(data),
            model=tiny_model_dir,
            out=str(tmp_path / "dt"),
            epochs=2,
            batch_size=4,
            distance_tokens=2,
            device="cpu",
            lr=1e-2,
        )
    )
    clip, _, _ = load_open_clip(tiny_model_dir)
    m = DistanceTokenCLIP(clip, n_tokens=2)
    before = m.distance_tokens.detach().clone()
    assert load_checkpoint(result["checkpoint"], m) == result["steps"] > 0
    assert not torch.equal(before, m.distance_tokens)


def test_false_negative_mask_and_bad_inputs(tmp_path: Path) -> None:
    from evokegraph.training.train import false_negative_mask, read_pairs

    m = false_negative_mask(["A quiet joy.", "a quiet joy", "a storm"])
    assert m.tolist() == [[False, True, False], [True, False, False], [False, False, False]]
    with pytest.raises(UserInputError, match="no training data at"):
        read_pairs(str(tmp_path / "none.csv"))
