"""The memory's evidence and hub are exactly what the plain computation gives:
``np.add.at`` / ``np.maximum.at`` over every (item, word) pair, bit for bit
(the fast path reads only the nearest items' pairs and reduces by word)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from evokegraph.ingest import written
from evokegraph.ingest.written import NEIGHBOURS, Evidence, WrittenMemory


def _reference_weights(sim: np.ndarray) -> np.ndarray:
    top = np.argsort(-sim, kind="stable")[:NEIGHBOURS]
    weight = np.exp((sim[top] - sim[top[0]]) / written.TEMPERATURE)
    out = np.zeros(len(sim), dtype=np.float64)
    out[top] = weight / weight.sum()
    return out


def _reference_evidence(mem: WrittenMemory, ctx: np.ndarray, wv: np.ndarray, n: int) -> Evidence:
    share = np.zeros(n, dtype=np.float32)
    best = np.full(n, -1.0, dtype=np.float32)
    if len(mem.captions) == 0:
        return Evidence(share, best)
    sim = mem.scene_share * (mem.captions @ ctx)
    sim += (1 - mem.scene_share) * (mem.elements @ wv)
    np.add.at(share, mem.word, _reference_weights(sim)[mem.item].astype(np.float32))
    np.maximum.at(best, mem.word, sim[mem.item].astype(np.float32))
    return Evidence(share, best)


def _reference_hub(caps, els, item, word, n_words, scene_share):  # type: ignore[no-untyped-def]
    hub = np.zeros(n_words, dtype=np.float64)
    if len(caps) < 2:
        return hub.astype(np.float32)
    sims = scene_share * (caps @ caps.T) + (1 - scene_share) * (els @ els.T)
    np.fill_diagonal(sims, -np.inf)
    for row in sims:
        np.add.at(hub, word, _reference_weights(row)[item])
    return (hub / len(caps)).astype(np.float32)


def _unit_rows(rng: np.random.Generator, n: int, dim: int, repeat: bool) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    if repeat and n > 1:  # equal rows: ties in similarity
        x[rng.integers(0, n, n // 2)] = x[0]
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@settings(max_examples=150, derandomize=True, deadline=None)
@given(
    n_items=st.integers(0, 40),
    n_words=st.integers(1, 30),
    per_item=st.integers(0, 6),
    dim=st.integers(2, 8),
    scene_share=st.sampled_from([0.0, 0.3, 0.5, 1.0]),
    sorted_pairs=st.booleans(),
    repeat=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_evidence_and_hub_equal_the_plain_computation(
    n_items: int,
    n_words: int,
    per_item: int,
    dim: int,
    scene_share: float,
    sorted_pairs: bool,
    repeat: bool,
    seed: int,
) -> None:
    rng = np.random.default_rng(seed)
    caps = _unit_rows(rng, n_items, dim, repeat)
    els = _unit_rows(rng, n_items, dim, repeat)
    pairs = {(j, int(w)) for j in range(n_items) for w in rng.integers(0, n_words, per_item)}
    order = sorted(pairs) if sorted_pairs else list(rng.permutation(sorted(pairs)))
    item = np.array([j for j, _ in order], dtype=np.int64)
    word = np.array([w for _, w in order], dtype=np.int64)
    hub = written._hub(caps, els, item, word, n_words, scene_share)
    ref_hub = _reference_hub(caps, els, item, word, n_words, scene_share)
    assert hub.tobytes() == ref_hub.tobytes()
    mem = WrittenMemory(caps, els, item, word, "d", hub, scene_share)
    for _ in range(3):
        ctx = _unit_rows(rng, 1, dim, False)[0]
        wv = caps[0] if n_items and rng.random() < 0.3 else _unit_rows(rng, 1, dim, False)[0]
        got, want = mem.evidence(ctx, wv, n_words), _reference_evidence(mem, ctx, wv, n_words)
        assert got.share.tobytes() == want.share.tobytes()
        assert got.best.tobytes() == want.best.tobytes()


@settings(max_examples=200, derandomize=True, deadline=None)
@given(
    n_themes=st.integers(1, 12),
    n_words=st.integers(1, 20),
    live=st.integers(0, 8),
    shared=st.integers(0, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_named_share_equals_the_dense_product(
    n_themes: int, n_words: int, live: int, shared: int, seed: int
) -> None:
    """Each theme names one word or none; one, two or more themes name the same
    word (more than two: the dense product is kept)."""
    from evokegraph.ingest.themes import Themes, named_share

    rng = np.random.default_rng(seed)
    named = np.zeros((n_themes, n_words), dtype=np.float32)
    for c in range(n_themes):
        if rng.random() < 0.7:
            named[c, rng.integers(0, n_words)] = 1.0
    for c in range(min(shared, n_themes)):  # several themes naming word 0
        named[c] = 0.0
        named[c, 0] = 1.0
    themes = Themes(
        names=tuple(f"t{c}" for c in range(n_themes)),
        member=named.copy(),
        named=named,
        centroid=np.zeros((n_themes, 2), dtype=np.float32),
        polarity=np.zeros(n_words, dtype=np.float32),
        word_index={},
    )
    assert (themes.named_word is None) == bool((named.sum(0) > 2).any())
    share = np.zeros(n_themes, dtype=np.float32)
    on = rng.permutation(n_themes)[:live]
    share[on] = rng.random(len(on)).astype(np.float32) ** rng.integers(1, 40)
    assert named_share(themes, share).tobytes() == (share @ named).tobytes()
