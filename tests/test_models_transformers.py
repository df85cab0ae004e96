"""The transformers engine with a tiny causal LM built and saved here (random weights)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evokegraph.errors import ModelError
from evokegraph.ingest.models.backends import LLMMiner
from evokegraph.ingest.stages import ImageItem, MiningInput
from evokegraph.models.chat import ChatRequest, load_engine
from evokegraph.records import Element, ImageRecord
from evokegraph.runs import Failed


def tiny_tokenizer(corpus: str, extra_specials: tuple[str, ...] = ()):
    """A byte-level BPE tokenizer trained here on a few words (no hub)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<unk>", "<s>", "</s>", "<pad>", *extra_specials],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator([corpus] * 20, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
    )


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    d = tmp_path_factory.mktemp("tiny-lm")
    fast = tiny_tokenizer('{"dog": {"distance 1": ["puppy"]}} image caption words')
    fast.chat_template = (
        "{% for m in messages %}<s>{{ m['role'] }}: {{ m['content'] }}</s>{% endfor %}"
        "{% if add_generation_prompt %}<s>assistant: {% endif %}"
    )
    fast.save_pretrained(d)
    cfg = LlamaConfig(
        vocab_size=fast.vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=3,
    )
    LlamaForCausalLM(cfg).save_pretrained(d)
    return d


def test_real_generate_batched(tiny_lm: Path) -> None:
    eng = load_engine(f"transformers:{tiny_lm}", device="cpu", batch_size=2)
    reqs = [
        ChatRequest(messages=[{"role": "user", "content": "x" * n}], max_tokens=5)
        for n in (1, 9, 3)
    ]
    out = eng.generate(reqs)
    assert len(out) == 3 and all(r.error == "" for r in out)
    assert all(0 < r.completion_tokens <= 5 for r in out)
    assert eng.usage["requests"] == 3
    again = load_engine(f"transformers:{tiny_lm}", device="cpu").generate(reqs[:1])
    assert again[0].text == out[0].text  # greedy: deterministic


def test_a_random_model_answer_is_a_recorded_failure(tiny_lm: Path) -> None:
    miner = LLMMiner(f"transformers:{tiny_lm}", cache="off", device="cpu")
    item = ImageItem(record=ImageRecord(id="f" * 64, captions=["a dog"]))
    (ans,) = miner.mine(
        [MiningInput(item=item, description="a dog", elements=[Element(name="dog", concept="dog")])]
    )
    assert isinstance(ans, Failed) and ans.reason.startswith("malformed answer")


def test_missing_weights_offline_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(
        ModelError, match=r"cannot load transformers model .*pass transformers:/path/to/dir"
    ):
        load_engine(f"transformers:{tmp_path / 'nothing-here'}")


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny LLaVA (CLIP vision tower + Llama) with its processor, random weights."""
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    d = tmp_path_factory.mktemp("tiny-vlm")
    fast = tiny_tokenizer("a photo of a dog, description and elements", ("<image>",))
    fast.add_special_tokens({"additional_special_tokens": ["<image>"]})
    chat = (
        "{% for m in messages %}<s>{{ m['role'] }}: {% if m['content'] is string %}{{ m['content'] }}"
        "{% else %}{% for p in m['content'] %}{% if p['type'] == 'image' %}<image>{% else %}"
        "{{ p['text'] }}{% endif %}{% endfor %}{% endif %}</s>{% endfor %}"
        "{% if add_generation_prompt %}<s>assistant: {% endif %}"
    )
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessor(
            size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
        ),
        tokenizer=fast,
        patch_size=16,
        vision_feature_select_strategy="default",
        chat_template=chat,
        image_token="<image>",
        num_additional_image_tokens=1,
    )
    vision = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=32,
        patch_size=16,
        projection_dim=16,
    )
    text = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=fast.pad_token_id,
    )
    cfg = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=fast.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
    )
    LlavaForConditionalGeneration(cfg).save_pretrained(d)
    processor.save_pretrained(d)
    return d


def test_tiny_vision_language_model_sees_images(tiny_vlm: Path) -> None:
    from PIL import Image

    from evokegraph.ingest.models.backends import VLMExtractor

    eng = load_engine(f"transformers:{tiny_vlm}", device="cpu")
    assert eng.vision
    reqs = [
        ChatRequest(
            messages=[{"role": "user", "content": "describe"}],
            images=[Image.new("RGB", size, colour)],
            max_tokens=4,
        )
        for size, colour in (((50, 40), "red"), ((30, 60), "blue"))
    ]
    out = eng.generate(reqs)
    assert [r.error for r in out] == ["", ""] and all(r.completion_tokens > 0 for r in out)
    assert out[0].prompt_tokens > 10  # the image placeholder expanded into patch tokens
    vlm = VLMExtractor(f"transformers:{tiny_vlm}", cache="off", device="cpu")
    item = ImageItem(record=ImageRecord(id="a" * 64), image=Image.new("RGB", (40, 40), "green"))
    (ans,) = vlm.extract([item])
    assert isinstance(ans, Failed) and ans.reason.startswith("malformed answer")  # random weights
