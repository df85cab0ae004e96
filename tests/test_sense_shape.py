"""WordNet's shape of a word (ingest/sense_shape.py): polysemy, depth, generality."""

from __future__ import annotations

import numpy as np

from evokegraph.ingest.sense_shape import GEN_CLIP, generality, shapes, word_shape


def test_polysemous_words_have_more_senses() -> None:
    assert word_shape("take", "v")[0] > word_shape("mosque", "n")[0] > 0


def test_depth_grows_down_the_hierarchy() -> None:
    person, scientist = word_shape("someone", "n")[1], word_shape("scientist", "n")[1]
    assert 0 <= person < scientist


def test_a_word_without_a_sense() -> None:
    assert word_shape("qwxzv", "n") == (0.0, -1.0)
    poly, depth = shapes(["qwxzv", "dog"], "n")
    assert poly.dtype == np.float32 and depth[0] == -1.0 and depth[1] > 0


def test_generality_is_steps_up_clipped_and_zero_without_a_sense() -> None:
    got = generality(6.0, np.array([3.0, -1.0, 9.0, 30.0, 6.0], dtype=np.float32))
    assert got.tolist() == [3.0, 0.0, -3.0, GEN_CLIP[0], 0.0]
    assert generality(-1.0, np.array([3.0], dtype=np.float32)).tolist() == [0.0]
