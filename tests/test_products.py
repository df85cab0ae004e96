"""products.product: the memo hands back exactly what ``matrix @ vec`` gives."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evokegraph.ingest import products
from evokegraph.ingest.products import product


@settings(max_examples=100, derandomize=True, deadline=None)
@given(st.integers(1, 50), st.integers(1, 20), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_a_remembered_product_is_the_product(rows: int, dim: int, keep: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    matrix = rng.standard_normal((rows, dim)).astype(np.float32)
    vecs = [rng.standard_normal(dim).astype(np.float32) for _ in range(3)]
    for i in rng.integers(0, 3, 12):  # vectors that come back, in and out of the memo
        got = product(matrix, vecs[i], keep)
        assert got.tobytes() == (matrix @ vecs[i]).tobytes()
        assert not got.flags.writeable
    assert len(products._memo[id(matrix)][1]) <= keep


def test_the_memo_tells_dtypes_shapes_and_matrices_apart() -> None:
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    b = a.copy()
    v32 = np.ones(4, dtype=np.float32)
    v64 = np.frombuffer(v32.tobytes(), dtype=np.float64)  # the same 16 bytes
    assert product(a, v32).dtype == np.float32
    with pytest.raises(ValueError):
        product(a, v64)  # not handed a's float32 product of v32
    b[0, 0] = 100.0
    assert product(b, v32)[0] == (b @ v32)[0] != product(a, v32)[0]
