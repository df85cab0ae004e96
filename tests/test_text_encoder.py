"""The shared text encoder's on-disk embedding cache (timing only, never results)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evokegraph.models.text_encoder import (
    EmbeddingCache,
    TextEncoder,
    embedding_cache_path,
    encoder_threads,
)


class CountingModel:
    """A stand-in with sentence-transformers' encode(): a vector from the text's bytes."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def get_sentence_embedding_dimension(self) -> int:
        return 8

    def encode(self, texts: list[str], **_: Any) -> np.ndarray:
        self.calls += texts
        out = []
        for t in texts:
            v = np.frombuffer(t.encode().ljust(8, b"#")[:8], dtype=np.uint8).astype(np.float32)
            out.append(v / np.linalg.norm(v))
        return np.stack(out)


def test_a_second_encoder_reads_vectors_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "emb.sqlite"
    first = TextEncoder("m", CountingModel(), EmbeddingCache(path, 8))
    a = first.encode(["cup", "saucer", "cup"])
    assert first.model.calls == ["cup", "saucer"]  # each text once

    model = CountingModel()
    second = TextEncoder("m", model, EmbeddingCache(path, 8))
    b = second.encode(["saucer", "cup", "spoon"])
    assert model.calls == ["spoon"]  # only the new text reaches the model
    np.testing.assert_array_equal(b[:2], a[[1, 0]])  # byte-identical vectors
    assert b.dtype == np.float32 and b.shape == (3, 8)


def test_cache_off_and_folder_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVOKEGRAPH_EMBED_CACHE", "0")
    assert embedding_cache_path("all-MiniLM-L6-v2", "/x") is None
    monkeypatch.setenv("EVOKEGRAPH_EMBED_CACHE", str(tmp_path))
    p = embedding_cache_path("all-MiniLM-L6-v2", "/x")
    assert p is not None and p.parent == tmp_path and p.name.startswith("all-MiniLM-L6-v2-")
    assert embedding_cache_path("all-MiniLM-L6-v2", "/y") != p  # another model folder, another file


def test_an_unusable_cache_file_only_turns_the_cache_off(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    cache = EmbeddingCache(blocker / "emb.sqlite", 8)
    assert not cache.active
    enc = TextEncoder("m", CountingModel(), None)
    assert enc.encode(["cup"]).shape == (1, 8)


def test_encoder_threads_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVOKEGRAPH_ENCODER_THREADS", raising=False)
    assert encoder_threads() == 1
    monkeypatch.setenv("EVOKEGRAPH_ENCODER_THREADS", "3")
    assert encoder_threads() == 3
    monkeypatch.setenv("EVOKEGRAPH_ENCODER_THREADS", "many")
    assert encoder_threads() == 1
