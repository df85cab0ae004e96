"""top_stable ranks exactly as a full stable argsort (ties, -inf, NaN, small k)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from evokegraph.ingest.topk import top_stable

values = st.lists(
    st.sampled_from([0.0, 0.5, 1.0, -1.0, 0.25, float("-inf"), float("inf")])
    | st.floats(-2, 2, allow_nan=False, width=32),
    min_size=0,
    max_size=60,
)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(values, st.integers(0, 70))
def test_top_stable_equals_a_full_stable_sort(xs: list[float], k: int) -> None:
    x = np.array(xs, dtype=np.float32)
    assert top_stable(x, k).tolist() == np.argsort(-x, kind="stable")[:k].tolist()


def test_ties_at_the_boundary_keep_index_order_and_nan_falls_back() -> None:
    x = np.array([1.0, 3.0, 2.0, 2.0, 2.0, 0.0])
    assert top_stable(x, 3).tolist() == [1, 2, 3]
    y = np.array([1.0, np.nan, 2.0])
    assert top_stable(y, 2).tolist() == np.argsort(-y, kind="stable")[:2].tolist()
