"""CLIP grounding (tiny local open_clip) and canonicalization (tiny local sentence-transformers)."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from evokegraph.ingest.stages import ImageItem, MiningInput
from evokegraph.records import Element, Evocation, ImageRecord


@pytest.fixture(scope="module")
def tiny_st(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A sentence-transformers stack (tiny BERT + mean pooling), saved locally."""
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel, BertTokenizerFast

    d = tmp_path_factory.mktemp("st")
    words = ["seashore", "sea", "shore", "beach", "dog", "puppy", "sky", "kite"]
    (d / "vocab.txt").write_text(
        "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n"
    )
    BertTokenizerFast(vocab_file=str(d / "vocab.txt")).save_pretrained(d / "bert")
    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=len(words) + 5,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    BertModel(cfg).save_pretrained(d / "bert")
    word = models.Transformer(str(d / "bert"), max_seq_length=16)
    pool = models.Pooling(word.get_word_embedding_dimension(), pooling_mode="mean")
    SentenceTransformer(modules=[word, pool], device="cpu").save(str(d / "st"))
    return str(d / "st")


def test_clip_grounding_fills_the_cosine_and_finalize_weighs_it(tiny_clip: str) -> None:
    from evokegraph.ingest.models.grounding import ClipGrounder
    from evokegraph.weights import evokes_weight, finalize

    g = ClipGrounder(tiny_clip, "none", device="cpu")
    item = ImageItem(record=ImageRecord(id="a" * 64), image=Image.new("RGB", (40, 40), "red"))
    inp = MiningInput(item=item, description="", elements=[Element(name="dog", concept="dog")])
    evs = [
        Evocation(element="dog", concept="loyalty", distance=4, rank=0, mentions=2),
        Evocation(element="dog", concept="freedom", distance=5, rank=1),
    ]
    g.ground([inp], [evs])
    assert inp.elements[0].grounding is not None and -1 <= inp.elements[0].grounding <= 1
    assert all(e.grounding is not None for e in evs)
    assert all(e.weight is None for e in evs)  # grounding sets the cosine, never the weight
    done = finalize(evs)
    assert [e.weight for e in done] == [evokes_weight(e.rank, e.mentions, e.grounding) for e in evs]
    assert all(0 < e.weight <= 1 for e in done)


def test_canonicalizer_on_a_real_tiny_stack(tiny_st: str) -> None:
    from evokegraph.ingest.models.grounding import Canonicalizer

    strict = Canonicalizer(tiny_st, threshold=1.01)  # cosine never exceeds 1: nothing merges
    assert strict.map(["seashore", "dog", "seashore"]) == {"seashore": "seashore", "dog": "dog"}
    loose = Canonicalizer(tiny_st, threshold=-1.01)  # everything merges into the first
    assert set(loose.map(["sky", "kite", "beach"]).values()) == {"sky"}


class StubEncoder:
    """Designed embeddings: 'sea shore' and 'seashore' nearly equal, 'dog' apart."""

    VECS = {
        "seashore": [1.0, 0.0],
        "sea shore": [0.99, 0.14],
        "dog": [0.0, 1.0],
        "puppy": [0.6, 0.8],
    }

    def encode(self, words, convert_to_tensor: bool, normalize_embeddings: bool):
        t = torch.tensor([self.VECS[w] for w in words])
        return torch.nn.functional.normalize(t, dim=-1)


def test_canonicalizer_merges_near_duplicates_keeping_surfaces() -> None:
    from evokegraph.ingest.models.grounding import Canonicalizer

    c = Canonicalizer(StubEncoder(), threshold=0.95)
    assert c.map(["seashore", "dog", "sea shore", "puppy"]) == {
        "seashore": "seashore",
        "dog": "dog",
        "sea shore": "seashore",
        "puppy": "puppy",
    }
    evs = c.apply(
        [Evocation(element="beach", concept="sea shore", surface="Sea shore", distance=1)]
    )
    assert evs[0].concept == "seashore" and evs[0].surface == "Sea shore"
