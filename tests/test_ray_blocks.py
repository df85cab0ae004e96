"""The Ray executor's source blocks (each one model batch): small first, then
``batch_size`` rows, every row once and in order."""

from __future__ import annotations

from evokegraph.ingest.config import IngestConfig
from evokegraph.ingest.ray_engine import block_bounds


def test_first_blocks_are_small_then_batch_size() -> None:
    cfg = IngestConfig(batch_size=128)
    assert block_bounds(1000, cfg)[:5] == [(0, 16), (16, 48), (48, 112), (112, 240), (240, 368)]
    for n in (0, 1, 15, 16, 17, 1000, 2000):
        bounds = block_bounds(n, cfg)
        assert [a for a, _ in bounds] == [0, *(b for _, b in bounds[:-1])][: len(bounds)]
        assert (bounds[-1][1] if bounds else 0) == n
        assert all(0 < b - a <= 128 for a, b in bounds)


def test_a_batch_of_one_is_one_row_per_block() -> None:
    assert block_bounds(3, IngestConfig(batch_size=1)) == [(0, 1), (1, 2), (2, 3)]
