"""The ingestion settings (:class:`IngestConfig`: what is computed) and the Ray
executor's options (:class:`RayOptions`: where); the executors read them, the CLI
and the Python API build them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from pydantic import Field

from evokegraph.errors import UserInputError
from evokegraph.images import DEFAULT_MAX_PIXELS
from evokegraph.models.presets import ModelSpec
from evokegraph.options import FACTORY_KEYWORDS, BackendOptions, PathText, option


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


_DEFAULT = IngestConfig()  # the defaults the flags show (one home per number)


class IngestFlags(BackendOptions):
    """``evokegraph ingest``'s own flags, declared once (the CLI's options are made of
    them, as of :class:`RayOptions`'); :meth:`config` decides the run's
    :class:`IngestConfig` from them: the library decides, the CLI parses."""

    captions: PathText | None = option(
        None,
        "--captions",
        "Extra captions file (CSV, JSONL or COCO JSON), matched by file name.",
        cli_type=Path,
    )
    image_root: PathText | None = option(
        None, "--image-root", "Folder that COCO file names are relative to.", cli_type=Path
    )
    extractor: str = option(_DEFAULT.extractor, "--extractor", "Element extractor backend.")
    miner: str = option(
        _DEFAULT.miner,
        "--miner",
        "Association miner: contextual (default), lexical (baseline) or llm.",
    )
    # the common backend options: each to the extractor or the miner that takes it
    tagger: str = option(
        "auto", "--tagger", "caption-text tagger: auto (spaCy if installed), spacy, heuristic."
    )
    top_k: int = option(5, "--top-k", "Salient elements per image (caption-text).", min=1)
    per_distance: int = option(
        3, "--per-distance", "Associations per element and distance (lexical).", min=1
    )
    batch_size: int = option(
        _DEFAULT.batch_size, "--batch-size", "Images per batch (model stages and writes).", min=1
    )
    flush_every: int = option(
        _DEFAULT.flush_every,
        "--flush-every",
        "Images per store transaction (a crash redoes at most this many).",
        min=1,
    )
    limit: int | None = option(None, "--limit", "Stop after N source items.", cli_type=int, min=1)
    force: bool = option(False, "--force", "Redo images already done with the same settings.")
    dry_run: bool = option(
        False, "--dry-run", "Read and validate only; write nothing, call no model."
    )
    max_pixels: int = option(
        _DEFAULT.max_pixels, "--max-pixels", "Refuse images above this many pixels.", min=1
    )
    ground: str | None = option(
        None,
        "--ground",
        "open_clip model for grounding weights, e.g. ViT-B-32 (or local-dir:PATH).",
    )
    ground_pretrained: str | None = option(
        None,
        "--ground-pretrained",
        "open_clip pretrained tag or checkpoint, e.g. laion2b_s34b_b79k.",
    )
    canonicalize: str | None = option(
        None,
        "--canonicalize",
        "sentence-transformers model that merges near-duplicate concepts.",
    )
    canonical_threshold: float = option(
        _DEFAULT.canonical_threshold,
        "--canonical-threshold",
        "Cosine above which two concepts are one.",
    )
    progress: bool = option(True, "--progress/--no-progress", "Progress bars on stderr.")
    engine: str = option(
        "local",
        "--engine",
        "local (one process, default) or ray (Ray Data: Parquet shards, then a load).",
    )
    vlm: str = option(
        "",
        "--vlm",
        "Model for --extractor vlm, ENGINE:MODEL (e.g. vllm:Qwen/Qwen2.5-VL-7B-Instruct).",
    )
    llm: str = option("", "--llm", "Model for --miner llm, ENGINE:MODEL (e.g. openai:gpt-4o-mini).")

    def config(
        self,
        backend_options: Mapping[str, Any],
        vlm: ModelSpec = ModelSpec(),  # noqa: B008 - frozen
        llm: ModelSpec = ModelSpec(),  # noqa: B008 - frozen
    ) -> IngestConfig:
        """The run's settings: ``--tagger/--top-k/--per-distance`` to the backend that
        takes each, ``backend_options`` (``-o``; they win) to the extractor or the miner
        that declares each (one neither takes is refused). ``vlm``/``llm``: how to reach
        or load the extractor's and the miner's model (their model: ``--vlm``/``--llm``)."""
        common = {"top_k": self.top_k, "tagger": self.tagger, "per_distance": self.per_distance}
        ex, mi = route_options(common, self.extractor, self.miner, strict=False)
        given = route_options(dict(backend_options), self.extractor, self.miner)
        same = self.model_dump(include={f.name for f in fields(IngestConfig)})
        decided = {
            "extractor_options": ex | given[0],
            "miner_options": mi | given[1],
            "vlm": replace(vlm, spec=self.vlm),
            "llm": replace(llm, spec=self.llm),
            **{k: Path(same[k]) for k in ("captions", "image_root") if same[k] is not None},
        }
        return IngestConfig(**same | decided)


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
