"""Version 25: a memory word that one of the nearest items alone holds, in a
scene unlike this one, is no evidence at distances 4-5 (``lone_scene_min``)."""

from __future__ import annotations

import numpy as np

from evokegraph.ingest.written import WrittenMemory, lone_far


def _unit(v: list[float]) -> np.ndarray:
    a = np.asarray(v, dtype=np.float32)
    return a / np.linalg.norm(a)


def _memory() -> WrittenMemory:
    # three items with the same element; their scenes: alike, alike, unlike
    captions = np.stack([_unit([1, 0, 0]), _unit([0.9, 0.1, 0]), _unit([0, 0, 1])])
    elements = np.stack([_unit([0, 1, 0])] * 3)
    # word 0: items 0 and 1; word 1: item 0 alone (alike); word 2: item 2 alone (unlike)
    item = np.array([0, 0, 1, 2])
    word = np.array([0, 1, 0, 2])
    hub = np.zeros(3, dtype=np.float32)
    return WrittenMemory(captions, elements, item, word, "t", hub, 0.5)


def test_a_word_one_unlike_scene_alone_holds_loses_its_share() -> None:
    mem, ctx, wvec = _memory(), _unit([1, 0, 0]), _unit([0, 1, 0])
    plain = mem.evidence(ctx, wvec, 3)
    ruled = mem.evidence(ctx, wvec, 3, lone_scene_min=0.3)
    assert plain.share[2] > 0 and ruled.share[2] == 0.0  # item 2's caption cosine is 0
    assert ruled.share[0] == plain.share[0] and ruled.share[1] == plain.share[1]
    assert np.array_equal(ruled.best, plain.best)  # the closest item is still known


def test_lone_far_keeps_words_two_items_hold_whatever_their_scenes() -> None:
    share = np.array([0.5, 0.5, 0.2], dtype=np.float32)
    items = np.array([0, 1, 2])
    words = np.array([0, 0, 2])
    scene = np.array([0.0, 0.0, 0.1])
    lone_far(share, items, words, scene, 0.3)
    assert share.tolist() == [np.float32(0.5), np.float32(0.5), 0.0]
