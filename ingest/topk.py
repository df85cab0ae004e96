"""The best ``k`` of a score array, exactly as a full stable sort ranks them.

``np.argsort(-x, kind="stable")[:k]`` sorts the whole array (a 14k-word
vocabulary, several times per element); :func:`top_stable` partitions first and
sorts only the candidates, ties at the boundary included, so the result is the
same indices in the same order (ties in index order), never a near copy.
"""

from __future__ import annotations

import numpy as np


def top_stable(x: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest values of ``x``, largest first, ties by index:
    identical to ``np.argsort(-x, kind="stable")[:k]``."""
    neg = -np.asarray(x)
    if k >= len(neg) or np.isnan(neg).any():
        return np.argsort(neg, kind="stable")[:k]
    if k <= 0:
        return np.zeros(0, dtype=np.intp)
    bound = np.partition(neg, k - 1)[k - 1]  # the k-th best value
    cand = np.flatnonzero(neg <= bound)  # every index that can rank in the top k, in order
    return cand[np.argsort(neg[cand], kind="stable")][:k]
