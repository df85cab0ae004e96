"""The ingestion settings (one dataclass; the runner, the batch work and the
Ray engine read it, the CLI and the Python API build it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evokegraph.images import DEFAULT_MAX_PIXELS


@dataclass
class IngestConfig:
    extractor: str = "caption-text"
    miner: str = "contextual"
    extractor_options: dict[str, Any] = field(default_factory=dict)
    miner_options: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 32
    # Images per store transaction. LadybugDB pays a fixed cost per commit that
    # grows with the graph (rel-table rewrites), so several model batches are
    # written together; a crash loses at most this many images' work.
    flush_every: int = 2048
    limit: int | None = None
    force: bool = False
    dry_run: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS
    captions: Path | None = None
    image_root: Path | None = None
    ground: str | None = None  # open_clip model for grounding weights, e.g. ViT-B-32
    ground_pretrained: str | None = None
    canonicalize: str | None = None  # sentence-transformers model for near-duplicate concepts
    canonical_threshold: float = 0.9
