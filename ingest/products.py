"""``matrix @ vec`` remembered: the same operands give the same bits, once.

The contextual miner multiplies a few fixed matrices (the vocabulary's
embeddings, the written memory's captions and elements) by vectors that come
back: a scene's vector for each of its elements, an element's vector at every
distance, a concept's ("man", "table") in image after image. A product is
kept for the last ``keep`` distinct vectors of each matrix and handed back for
a vector with the same dtype, shape and bytes: the result is the one BLAS gave
the first time, bit for bit, never a near copy. The matrix must not be written
to while it is in use here (the memo holds it, so its id is not reused); the
returned array is read-only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

MATRICES = 16  # matrices remembered at a time (a miner uses 3)

_lock = threading.Lock()
_memo: dict[int, tuple[np.ndarray, OrderedDict[bytes, np.ndarray]]] = {}


def product(matrix: np.ndarray, vec: np.ndarray, keep: int = 1) -> np.ndarray:
    """``matrix @ vec``, from the memo when ``vec`` is one of the last ``keep``
    vectors this ``matrix`` was multiplied by."""
    key = vec.dtype.str.encode() + str(vec.shape).encode() + vec.tobytes()
    with _lock:
        entry = _memo.get(id(matrix))
        if entry is not None and entry[0] is matrix:
            hit = entry[1].get(key)
            if hit is not None:
                entry[1].move_to_end(key)
                return hit
    out = matrix @ vec
    out.setflags(write=False)
    with _lock:
        entry = _memo.get(id(matrix))
        if entry is None or entry[0] is not matrix:
            if len(_memo) >= MATRICES:
                _memo.clear()
            entry = _memo[id(matrix)] = (matrix, OrderedDict())
        entry[1][key] = out
        while len(entry[1]) > keep:
            entry[1].popitem(last=False)
    return out
