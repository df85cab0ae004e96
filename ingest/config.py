"""The ingestion settings (:class:`IngestConfig`: what is computed) and the Ray
executor's options (:class:`RayOptions`: where); the executors read them, the CLI
and the Python API build them."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import Field

from evokegraph.errors import UserInputError
from evokegraph.images import DEFAULT_MAX_PIXELS
from evokegraph.models.presets import ModelSpec
from evokegraph.options import FACTORY_KEYWORDS, BackendOptions, option


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
    vlm: ModelSpec = field(default_factory=ModelSpec)  # the extractor's model, if it runs one
    llm: ModelSpec = field(default_factory=ModelSpec)  # the miner's model, if it runs one


class RayOptions(BackendOptions):
    """How the Ray executor runs (``engine="ray"``); none of it changes what is stored.
    The fields with a flag are ``ingest --engine ray``'s options (the one source)."""

    # the shards folder; the CLI and the API default it to DB + .shards
    shards: Path | None = option(
        None, "--shards", "--engine ray: shards folder (default: DB path + .shards)."
    )
    address: str | None = option(
        None,
        "--ray-address",
        "--engine ray: cluster address (ray://HOST:10001, auto); default: a local cluster.",
        envvar="RAY_ADDRESS",
    )
    workers: int = option(1, "--workers", "--engine ray: actors per model stage.", min=1)
    gpus_per_worker: float = option(
        0.0, "--gpus-per-worker", "--engine ray: GPUs per actor.", min=0
    )
    cpus_per_worker: float = option(
        1.0, "--cpus-per-worker", "--engine ray: CPUs per actor.", min=0.01
    )
    shard_size: int = option(1024, "--shard-size", "--engine ray: source items per shard.", min=1)
    local_cpus: int | None = Field(default=None, ge=1, description="CPUs of a local cluster")
    progress: bool = Field(default=False, description="Ray Data's progress bars")


def resolve(config: IngestConfig, preset: str = "project") -> IngestConfig:
    """The config as the executors run it: the preset applied (``reference`` mines with
    the ``llm`` miner on the reference's prompt), and each backend that runs a model
    given its model spec (``vlm`` for the extractor, ``llm`` for the miner: spec,
    endpoint or loader options); options given explicitly win."""
    from evokegraph.ingest.stages import EXTRACTORS, MINERS, load_backends
    from evokegraph.models.presets import (
        check_loader_options,
        check_preset,
        reference_miner_options,
    )

    load_backends()
    miner, mi_opts = config.miner, dict(config.miner_options)
    if check_preset(preset) == "reference":
        spec = config.llm.spec or str(mi_opts.get("spec", ""))
        mi_opts = {**(mi_opts if miner == "llm" else {}), **reference_miner_options(spec)}
        miner = "llm"
    models = []
    ex_opts = dict(config.extractor_options)
    if config.extractor in EXTRACTORS and "spec" in EXTRACTORS.accepts(config.extractor):
        ex_opts = {**_model_options(config.vlm), **ex_opts}
        models.append(config.vlm)
    if miner in MINERS and "spec" in MINERS.accepts(miner):
        mi_opts = {**_model_options(config.llm), **mi_opts}
        models.append(config.llm)
    check_loader_options(*models)
    # a backend with no model takes its declared options only; a model backend
    # passes the keys it does not declare to its engine (base_url, loader options)
    for registry, name, opts in ((EXTRACTORS, config.extractor, ex_opts), (MINERS, miner, mi_opts)):
        if "spec" not in registry.accepts(name):
            registry.check_options(name, opts, FACTORY_KEYWORDS)
    return replace(config, miner=miner, extractor_options=ex_opts, miner_options=mi_opts)


def _model_options(model: ModelSpec) -> dict[str, Any]:
    return {"spec": model.spec, **model.engine_options()} if model.spec else {}


def route_options(
    values: dict[str, Any], extractor: str, miner: str, *, strict: bool = True
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Backend options by name (``-o top_k=3``) -> (the extractor's, the miner's): each
    to the backend(s) that take it. ``strict``: a name neither takes is refused."""
    from evokegraph.ingest.stages import EXTRACTORS, MINERS, load_backends

    load_backends()
    ex = EXTRACTORS.accepts(extractor) if extractor in EXTRACTORS else frozenset()
    mi = MINERS.accepts(miner) if miner in MINERS else frozenset()
    unknown = sorted(k for k in values if k not in ex | mi)
    if strict and unknown:
        raise UserInputError(
            f"option {', '.join(unknown)} is taken by neither --extractor {extractor} "
            f"({', '.join(sorted(ex - FACTORY_KEYWORDS)) or 'none'}) nor --miner {miner} "
            f"({', '.join(sorted(mi - FACTORY_KEYWORDS)) or 'none'}); see `evokegraph backends`"
        )
    return {k: v for k, v in values.items() if k in ex}, {
        k: v for k, v in values.items() if k in mi
    }
