"""The paper's evaluation protocols, on small fixtures written in the published layouts."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from evokegraph.errors import UserInputError
from evokegraph.training import protocols as P

torch.set_num_threads(1)

TINY = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16, "head_width": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}
WORDS = [
    "sea",
    "storm",
    "moon",
    "ember",
    "grief",
    "dawn",
    "salt",
    "rust",
    "bloom",
    "ash",
    "tide",
    "frost",
]


def noise_image(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(path)


def poem_fixture(root: Path, n: int = 12) -> tuple[Path, Path]:
    """MultiM-Poem's layout: a JSON list of {id, poem, ...} and a folder of ID.jpg."""
    images = root / "img"
    images.mkdir()
    data = []
    for i in range(n):
        noise_image(images / f"{100 + i}.jpg", i)
        data.append({"id": 100 + i, "poem": f"the {WORDS[i]} and the {WORDS[-1 - i]}", "url": ""})
    noise_image(images / "999.jpg", 99)  # no poem for it: left out
    (images / "notes.txt").write_text("not an image")
    (root / "multim_poem.json").write_text(json.dumps(data))
    return root / "multim_poem.json", images


@pytest.fixture
def tiny(tmp_path: Path) -> str:
    d = tmp_path / "tiny"
    d.mkdir()
    (d / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY}))
    return f"local-dir:{d}"


def brute_force(sim: np.ndarray, ks: tuple[int, ...] = (1, 5, 10, 20)) -> dict[str, float]:
    ranks = []
    for q in range(sim.shape[0]):
        ranks.append(sum(1 for c in range(sim.shape[1]) if sim[q, c] >= sim[q, q]))
    out = {f"R@{k}": sum(r <= k for r in ranks) / len(ranks) for k in ks}
    return {**out, "avg_rank": sum(ranks) / len(ranks)}


def test_poem_loader_reads_the_published_layout(tmp_path: Path) -> None:
    js, images = poem_fixture(tmp_path)
    pairs = P.load_multim_poem(js, images)
    assert len(pairs) == 12 and pairs[0] == (str(images / "100.jpg"), "the sea and the frost")
    with pytest.raises(UserInputError, match="id and poem"):
        (tmp_path / "bad.json").write_text('[{"x": 1}]')
        P.load_multim_poem(tmp_path / "bad.json", images)


def test_block_matrix_differs_and_full_matrix_is_brute_force(tiny: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    enc = P.load_encoder(tiny, "none", None)
    pairs = P.load_multim_poem(*poem_fixture(tmp_path))
    poems = enc.texts([t for _, t in pairs])
    images = enc.images([p for p, _ in pairs])
    full = P.poem_metrics(poems, images)
    blocked = P.poem_metrics(poems, images, block=4)
    sim = P._unit(poems) @ P._unit(images).T
    assert full == pytest.approx(brute_force(sim))
    assert blocked == pytest.approx(brute_force(P.block_diagonal(sim, 4)))
    assert full != blocked  # the reference's block bug is measurable


def test_block_bug_on_known_embeddings() -> None:
    # 4 poems/images; poem 0 is nearest image 3, which only the full matrix sees
    img = np.eye(4)
    poem = np.array([[0.6, 0, 0, 0.8], [0, 1.0, 0, 0], [0, 0, 1.0, 0], [0, 0, 0, 1.0]])
    assert P.poem_metrics(poem, img)["R@1"] == 0.75
    assert P.poem_metrics(poem, img, block=2)["R@1"] == 1.0


def test_haivmet_task2_and_task3_layouts(tiny: str, tmp_path: Path) -> None:
    for r, root in enumerate(["met1", "met2"]):
        for m, metaphor in enumerate(["time is a thief", "love is a journey"]):
            folder = tmp_path / root / metaphor
            folder.mkdir(parents=True)
            noise_image(folder / f"{m}.png", 10 * r + m)
    (tmp_path / "met1" / "readme.txt").write_text("x")
    pairs = P.load_haivmet_task2([tmp_path / "met1", tmp_path / "met2"])
    assert len(pairs) == 4 and {t for _, t in pairs} == {"time is a thief", "love is a journey"}
    noise_image(tmp_path / "d.png", 1)
    noise_image(tmp_path / "c.png", 2)
    task3 = {"anger is fire": {"DALLE": "d.png", "DALLE_CoT": str(tmp_path / "c.png")}}
    (tmp_path / "t3.pkl").write_bytes(pickle.dumps(task3))
    items = P.load_haivmet_task3(tmp_path / "t3.pkl")
    assert items == [("anger is fire", str(tmp_path / "d.png"), str(tmp_path / "c.png"))]
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"x": Path("a")}))
    with pytest.raises(UserInputError, match="data only"):
        P.load_haivmet_task3(tmp_path / "evil.pkl")
    enc = P.load_encoder(tiny, "none", None)
    rows = P.run_task2(enc, pairs, [None]) + P.run_task3(enc, items, [None])
    assert rows[0]["queries"] == 4 and 1 <= rows[0]["avg_rank"] <= 2
    assert rows[1]["DALLE_CoT_share"] in (0.0, 1.0)


def test_task_metrics_by_hand() -> None:
    img = np.array([[1.0, 0], [0, 1.0], [0.7, 0.7]])
    txt = np.array([[1.0, 0], [0, 1.0]])
    m = P.task2_metrics(img, txt, [0, 1, 1])  # image 2 ties both texts: pessimistic rank 2
    assert m["R@1"] == pytest.approx(2 / 3) and m["avg_rank"] == pytest.approx(4 / 3)
    share = P.task3_share(txt, np.array([[1.0, 0], [1.0, 0]]), np.array([[0, 1.0], [0, 1.0]]))
    assert share == 0.5


def test_eval_poem_cli_sweeps_depths_and_flags_random_weights(
    tiny: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from evokegraph.cli import main
    from evokegraph.models.clip import load_open_clip
    from evokegraph.training.model import DistanceTokenCLIP

    js, images = poem_fixture(tmp_path)
    clip, _, _ = load_open_clip(tiny, "none")
    model = DistanceTokenCLIP(clip, n_tokens=2)
    ckpt = tmp_path / "ck.pt"
    torch.save(
        {"trainable": {"distance_tokens": model.distance_tokens.detach()}, "step": 1, "config": {}},
        ckpt,
    )
    args = ["eval", "poem", "--poems", str(js), "--images", str(images), "--model", tiny]
    args += ["--pretrained", "none", "--checkpoint", str(ckpt), "--as-depth", "1"]
    assert main([*args, "--as-depth", "5", "--block", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["weights"].startswith("none")
    assert [(r["depth"], r["matrix"]) for r in out["rows"]] == [
        (1, "full"),
        (1, "block 4"),
        (5, "full"),
        (5, "block 4"),
    ]
    assert main(args) == 0
    assert "RANDOM WEIGHTS" in " ".join(capsys.readouterr().out.split())  # titles may wrap
    assert main([*args[:-2], "--as-depth", "9"]) != 0


# -- the notebook's CLIP-cosine analysis ------------------------------------------------
def reference_kb(kb: object, tmp_path: Path) -> list[str]:
    """4 COCO-named images: 0-2 with captions at all 5 distances, 3 missing distance 5."""
    from evokegraph.records import Caption, GraphBatch, ImageEntry, ImageRecord

    ids, entries, captions = [], [], []
    for i in range(4):
        p = tmp_path / f"COCO_val2014_{i + 1:012d}.jpg"
        noise_image(p, i)
        image_id = f"{i:064x}"
        ids.append(image_id)
        entries.append(ImageEntry(image=ImageRecord(id=image_id, uris=[str(p)], captions=["own"])))
        for d in range(1, 6 if i < 3 else 5):
            captions.append(
                Caption(image_id=image_id, text=f"d{d} " + "x" * d, depth=d, realizer="template")
            )
    kb.write(GraphBatch(images=entries))
    kb.write(GraphBatch(captions=captions))
    return ids


def fake_scorer(paths: list[str], texts: list[str]) -> list[float]:
    """Longer captions score lower; foils score 0.1; image 2 ranks its foil high."""
    out = []
    for p, t in zip(paths, texts, strict=True):
        if t.startswith("foil"):
            out.append(0.5 if p.endswith("3.jpg") else 0.1)
        else:
            out.append(0.4 - 0.01 * len(t))
    return out


def test_reference_protocol_filter_rows_and_shares(kb: object, tmp_path: Path) -> None:
    from evokegraph.captioning.reference_protocol import load_coco_captions, reference_report

    reference_kb(kb, tmp_path)
    coco = {"annotations": [{"image_id": i, "caption": "o"} for i in (1, 2, 3, 4)]}
    foil = {
        "annotations": [
            {"image_id": i, "caption": f"foil {i}", "foil": True} for i in (1, 3, 4)
        ]  # image 2 has no FOIL caption: left out, as the notebook does
        + [{"image_id": 2, "caption": "not a foil", "foil": False}]
    }
    (tmp_path / "coco.json").write_text(json.dumps(coco))
    (tmp_path / "foil.json").write_text(json.dumps(foil))
    rep = reference_report(
        kb,
        fake_scorer,
        originals=load_coco_captions(tmp_path / "coco.json"),
        foils=load_coco_captions(tmp_path / "foil.json", foil_only=True),
    )
    assert rep.images == 2  # image 1 and 3 (image 4 lacks distance 5, image 2 a foil)
    means = {r["caption"]: r["mean_cosine"] for r in rep.rows}
    assert means["original"] == pytest.approx(0.39)
    assert means["distance 5"] == pytest.approx(0.4 - 0.01 * 8)
    assert means["foil"] == pytest.approx(0.3)
    assert {r["caption"]: r["reference"] for r in rep.rows}["distance 1"] == 0.296
    share = {(r["higher"], r["than"]): r["share"] for r in rep.pairwise}
    assert share[("original", "distance 1")] == 1.0  # "o" is shorter than any creative one
    assert share[("foil", "distance 1")] == 0.5 and share[("foil", "original")] == 0.5
    # no FOIL file: stored captions as originals, no foil row, 3 images pass
    rep2 = reference_report(kb, fake_scorer)
    assert rep2.images == 3 and "foil" not in {r["caption"] for r in rep2.rows}


def test_report_abstraction_reference_cli(
    kb_path: Path, tmp_path: Path, tiny: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from evokegraph.cli import main
    from evokegraph.graph.ladybug_store import LadybugStore

    store = LadybugStore(kb_path, create=True)
    reference_kb(store, tmp_path)
    store.close()
    args = ["--db", str(kb_path), "report", "abstraction", "--protocol", "reference"]
    args += ["--clip-model", tiny, "--clip-pretrained", "none"]
    assert main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["images"] == 3 and out["weights"].startswith("none")
    assert main(args) == 0
    assert "RANDOM WEIGHTS" in " ".join(capsys.readouterr().out.split())  # titles may wrap
