"""The Python API: open a knowledge base, ingest, caption, export.

Four functions, the same ones the CLI commands call (``evokegraph init``,
``ingest``, ``caption``, ``export``); ``import evokegraph`` re-exports all but
``ingest`` (that name is the ingestion package) with the record types and
errors::

    from evokegraph.api import open_kb, ingest, caption, export

    with open_kb("my.kb", create=True) as kb:
        ingest(kb, ["photos/"])
        caption(kb, depths=[1, 3, 5])
        export(kb, "pairs/", format="csv")

Everything here is a thin layer over the stage packages; no stage imports it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from evokegraph.errors import UserInputError
from evokegraph.graph.protocol import FileStore
from evokegraph.graph.store import GraphStore, StoreConfig, open_store
from evokegraph.levels import DEFAULT_DEPTHS, check_depths
from evokegraph.models.presets import ModelSpec
from evokegraph.runs import Advances, Progress, RunContext, as_progress

if TYPE_CHECKING:
    from evokegraph.captioning.runner import CaptionSummary
    from evokegraph.ingest.batchwork import Summary as IngestSummary
    from evokegraph.ingest.config import IngestConfig, RayOptions
    from evokegraph.training.export import ExportSummary

__all__ = ["backends", "caption", "export", "ingest", "open_kb", "write_sample"]

URI_SCHEMES = ("bolt://", "bolt+s://", "bolt+ssc://", "neo4j://", "neo4j+s://", "neo4j+ssc://")
DEFAULT_SPLIT_RATIO = "train=0.9,val=0.05,test=0.05"


def open_kb(
    location: str | Path | StoreConfig | None = None,
    *,
    create: bool = False,
    read_only: bool = False,
    **options: Any,
) -> GraphStore:
    """Open a knowledge base; use it as a context manager (``with ... as kb``).

    ``location`` is a file path (the embedded LadybugDB store), a ``bolt://``
    or ``neo4j://`` URI (Neo4j; give ``user=``, ``password=``, ``database=``)
    or a :class:`~evokegraph.graph.store.StoreConfig`; None reads the
    ``EVOKEGRAPH_*`` environment like the CLI. ``create=True`` makes an empty
    knowledge base (or stamps the schema on a Neo4j database), like ``init``.
    """
    if isinstance(location, StoreConfig):
        cfg = location.replace(**options)
    elif location is None:
        cfg = StoreConfig.from_env(**options)
    elif str(location).startswith(URI_SCHEMES):
        cfg = StoreConfig("neo4j", uri=str(location), **options)
    else:
        cfg = StoreConfig("ladybug", path=str(location), **options)
    kb = open_store(cfg.replace(read_only=read_only, create=create))
    if create:
        kb.ensure_schema()
    return kb


def _paths(sources: str | Path | Sequence[str | Path]) -> list[Path]:
    if isinstance(sources, str | Path):
        return [Path(sources)]
    return [Path(s) for s in sources]


Engine = Literal["local", "ray"]


def ingest(
    kb: GraphStore,
    sources: str | Path | Sequence[str | Path],
    config: IngestConfig | None = None,
    *,
    preset: str = "project",
    engine: Engine = "local",
    ray: RayOptions | None = None,
    progress: Progress | None = None,
    **settings: Any,
) -> IngestSummary:
    """Ingest images into ``kb``: folders, CSV/JSONL lists or COCO captions JSON.

    ``settings`` are :class:`~evokegraph.ingest.config.IngestConfig` fields
    (``extractor="caption-text"``, ``miner="contextual"``, ``batch_size``,
    ``limit``, ``force``, ``captions=``, ...), or pass a whole ``config``.
    ``preset="reference"`` mines with an LLM on the reference's prompt (give
    ``miner_options={"spec": "openai:MODEL"}``). ``engine="ray"`` runs the same
    steps on Ray Data into Parquet shards (``ray``: a
    :class:`~evokegraph.ingest.config.RayOptions`; the shards folder defaults to
    the store's location + ``.shards``), then loads them. Returns the run's
    :class:`~evokegraph.ingest.batchwork.Summary` (``new``, ``skipped``,
    ``failed``, ``run_id``; ``shards`` for the Ray engine); per-image failures
    are recorded in the graph (``kb.failures(run_id)``), not raised.
    """
    from evokegraph.ingest.config import IngestConfig, resolve

    if config is None:
        known = {f.name for f in fields(IngestConfig)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise UserInputError(
                f"unknown ingest setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        config = IngestConfig(**settings)
    elif settings:
        raise UserInputError("give ingest settings either as config= or as keywords, not both")
    config = resolve(config, preset)
    context = RunContext("ingest", as_progress(progress))
    if engine == "local":
        from evokegraph.ingest.runner import Ingestor

        return Ingestor(kb, config, context=context).run(_paths(sources))
    if engine != "ray":
        raise UserInputError(f"unknown engine {engine!r}; use local or ray")
    from evokegraph.ingest.config import RayOptions
    from evokegraph.ingest.ray_engine import ray_ingest

    options = ray or RayOptions()
    if options.shards is None:
        if not isinstance(kb, FileStore):
            raise UserInputError("engine='ray' on a server store needs RayOptions(shards=DIR)")
        options = options.model_copy(update={"shards": Path(f"{kb.path}.shards")})
    return ray_ingest(kb, config, _paths(sources), options, context)


def caption(
    kb: GraphStore,
    *,
    depths: Sequence[int] | None = None,
    realizer: str = "template",
    images: Sequence[str] | None = None,
    per_element: int = 1,
    seed: int = 0,
    sample: bool = False,
    force: bool = False,
    preset: str = "project",
    vlm: str | ModelSpec = "",
    engine_options: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    progress: Advances | None = None,
) -> CaptionSummary:
    """Write captions at ``depths`` of abstraction (default 1..5), each with its
    graph path; images already captioned with the same settings are skipped.

    ``realizer``: ``template`` (offline) or ``vlm`` (with ``vlm="ENGINE:MODEL"``);
    ``images``: ids, id prefixes or files (default: all); ``preset="reference"``
    uses the authors' settings; ``options``: the realizer's declared options
    (``evokegraph backends --kind realizer``), over the preset's. Returns the
    :class:`~evokegraph.captioning.runner.CaptionSummary`.
    """
    from evokegraph.captioning.realizers import REALIZERS
    from evokegraph.captioning.runner import CaptionConfig, Captioner
    from evokegraph.models.presets import check_preset, reference_realizer_options
    from evokegraph.views import resolve_image

    depths = check_depths(int(d) for d in (depths or DEFAULT_DEPTHS))
    model = vlm if isinstance(vlm, ModelSpec) else ModelSpec(vlm)
    engine = {**model.engine_options(), **dict(engine_options or {})}
    if check_preset(preset) == "reference":
        realizer, per_element, sample = "vlm", 1, False
        made: dict[str, Any] = reference_realizer_options(model.spec, **engine)
    elif "spec" in REALIZERS.accepts(realizer):  # a model realizer: its model spec
        made = {"spec": model.spec, "engine_options": engine}
    else:
        made = {"seed": seed} if "seed" in REALIZERS.accepts(realizer) else {}
    REALIZERS.check_options(realizer, options or {})
    config = CaptionConfig(
        depths=depths,
        per_element=per_element,
        seed=seed,
        sample=sample,
        uniform=preset == "reference",
        force=force,
        load_images=realizer == "vlm",
    )
    ids = [resolve_image(kb, i) for i in images] if images else None
    real = REALIZERS.create(realizer, **{**made, **dict(options or {})})
    return Captioner(kb, real, config, progress=as_progress(progress)).run(ids)


def export(
    kb: GraphStore,
    out: str | Path,
    *,
    format: str = "csv",  # noqa: A002 - the CLI's --format
    depths: Sequence[int] | None = None,
    min_weight: float = 0.0,
    realizer: str | None = None,
    split_ratio: str | Mapping[str, float] = DEFAULT_SPLIT_RATIO,
    shard_size: int = 1000,
) -> ExportSummary:
    """Export image-caption pairs for training: ``csv`` (open_clip's layout,
    one file per split), ``webdataset`` shards or one ``parquet`` table.

    An image keeps its source's split (COCO val stays ``val``); the others are
    split by a stable hash of their id over ``split_ratio`` (a string
    ``"train=0.9,val=0.05,test=0.05"`` or a mapping). Returns the
    :class:`~evokegraph.training.export.ExportSummary` (counts, files).
    """
    from evokegraph.pairs import parse_split_ratio
    from evokegraph.training.export import export as export_pairs

    if isinstance(split_ratio, str):
        ratios = parse_split_ratio(split_ratio)
    else:
        ratios = parse_split_ratio(",".join(f"{k}={v}" for k, v in split_ratio.items()))
    return export_pairs(
        kb,
        Path(out),
        format,
        depths=depths,
        min_weight=min_weight,
        realizer=realizer,
        ratios=ratios,
        shard_size=shard_size,
    )


def write_sample(directory: str | Path) -> list[Path]:
    """The bundled sample (public-domain photos with captions, a JSONL list and
    a gold file) written to ``directory``, like ``evokegraph sample``; returns
    the image paths."""
    from evokegraph.ingest.sample import write_sample as _write

    return _write(Path(directory))


BACKEND_KINDS = ("extractor", "miner", "realizer", "store")


def backends(kind: str | None = None) -> list[dict[str, str]]:
    """Every registered backend of ``kind`` (extractor, miner, realizer, store; None:
    all) with its options: one row per option (kind, name, option, type, default,
    description, help); a backend without options has one row with no option."""
    from evokegraph.captioning.realizers import REALIZERS
    from evokegraph.graph.backends import BACKENDS
    from evokegraph.ingest.stages import EXTRACTORS, MINERS, load_backends
    from evokegraph.options import FACTORY_KEYWORDS, option_rows
    from evokegraph.registry import Registry

    if kind is not None and kind not in BACKEND_KINDS:
        raise UserInputError(
            f"unknown backend kind {kind!r}; use one of {', '.join(BACKEND_KINDS)}"
        )
    load_backends()
    registries: dict[str, Registry[Any]] = {
        "extractor": EXTRACTORS,
        "miner": MINERS,
        "realizer": REALIZERS,
        "store": BACKENDS,
    }
    rows: list[dict[str, str]] = []
    for k in [kind] if kind else BACKEND_KINDS:
        reg = registries[k]
        for name, text in reg.describe().items():
            plain = {} if reg.options(name) else reg.defaults(name)
            opts = option_rows(reg.options(name), plain)
            opts = [o for o in opts if o["option"] not in FACTORY_KEYWORDS] or [
                dict.fromkeys(("option", "type", "default", "description"), "")
            ]
            rows += [{"kind": k, "name": name, **o, "help": text} for o in opts]
    return rows
