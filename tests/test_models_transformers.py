"""The transformers engine with a tiny causal LM built and saved here (random weights)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evokegraph.errors import ModelError
from evokegraph.ingest.engine import ChatRequest, load_engine
from evokegraph.ingest.models.backends import LLMMiner
from evokegraph.ingest.stages import Failed, ImageItem, MiningInput
from evokegraph.records import Element, ImageRecord


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    d = tmp_path_factory.mktemp("tiny-lm")
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<unk>", "<s>", "</s>", "<pad>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(
        ['{"dog": {"distance 1": ["puppy"]}} image caption words'] * 20, trainer
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
    )
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
