"""The Ray executor (``engine="ray"``): the ingestion steps on Ray Data, into Parquet shards.

The driver lists the sources and cuts them into shards of ``shard_size`` items
(in source order). Where the knowledge base holds images, a light step hashes
each item (its image id) and the driver looks up, per shard, what the store
holds of those ids (:func:`evokegraph.ingest.known.look_up`, as the local
executor does per batch); each source row carries its image's stored record.
Each unfinished shard's rows then flow through two ``map_batches`` stages, each
an actor pool of ``workers`` actors (:mod:`evokegraph.ingest.ray_stages`):
``ExtractStage`` (decode, plan, extract) and ``MineStage`` (mine, refine).
Where a model backend runs on vLLM (``vllm:MODEL``), its calls go through Ray
Data's LLM processor between a ``prompt`` and a ``parse`` pass of its stage
(:mod:`evokegraph.ingest.ray_llm`).

The driver gathers each shard's rows and puts its outcome into a
:class:`~evokegraph.ingest.sinks.ShardSink` (Parquet per table, then a
completion marker), so a job that is killed or fails is run again with the
same command and redoes only unfinished shards; Ray restarts dead actors and
retries their batches. :func:`ray_ingest` then loads the shards into the
knowledge base (:func:`evokegraph.graph.bulk.load`).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from evokegraph.errors import EvokeGraphError, UserInputError
from evokegraph.graph import rows as R
from evokegraph.graph import shards as S
from evokegraph.graph.store import GraphStore
from evokegraph.ingest import ray_llm
from evokegraph.ingest.batchwork import Executor, Outcome, ShardRun, Summary, Work, settings_key
from evokegraph.ingest.config import IngestConfig, RayOptions
from evokegraph.ingest.known import Probe, look_up
from evokegraph.ingest.ray_stages import (
    ExtractStage,
    MineStage,
    cause,
    ray_init,
    source_captions,
    source_row,
    with_id,
)
from evokegraph.ingest.runner import run_record
from evokegraph.ingest.sinks import ShardSink
from evokegraph.ingest.sources import SourceItem, iter_sources
from evokegraph.ingest.stages import BY_NAME, Backends
from evokegraph.records import Failure, ImageEntry
from evokegraph.runs import RunContext

__all__ = ["RayIngest", "RayOptions", "ray_ingest"]

LIGHT_CPUS = 0.25  # CPUs per actor of a step that runs no model (hashing, prompts, parsing)
Part = tuple[tuple[int, int], list[ImageEntry], list[Failure]]


def block_bounds(n: int, config: IngestConfig) -> list[tuple[int, int]]:
    """The source rows' blocks, each one model batch of the actor stages: the first
    ones small (1/8, 1/4, 1/2 of ``batch_size``) so that the first images reach the
    driver soon after the actors have loaded their models (a first mining batch
    pays for cold caches: ~0.7 s for 16 images, ~2.5 s for 128), then
    ``batch_size`` rows each."""
    size = max(1, config.batch_size)
    sizes = [s for s in (size // 8, size // 4, size // 2) if s >= 1]
    out, a = [], 0
    while a < n:
        b = min(n, a + (sizes.pop(0) if sizes else size))
        out.append((a, b))
        a = b
    return out


class RayIngest(Executor):
    """One sharded ingestion job on Ray Data."""

    def __init__(
        self,
        config: IngestConfig,
        options: RayOptions,
        given: Backends = BY_NAME,
        context: RunContext | None = None,
    ) -> None:
        if options.shards is None:
            raise UserInputError("engine ray needs a shards folder: pass --shards DIR")
        super().__init__(config, given, context)  # given: shipped to the actors
        self.options = options
        self.root = Path(options.shards)
        self.sink = ShardSink(self.root)
        self.shards_total = self.shards_run = 0
        # time.perf_counter() as each image's row reaches the driver: the rate once warm
        self.arrivals: list[float] = []

    def backends(self, given: Backends) -> Backends:
        """vllm: backends on stand-in engines here (no model loaded): for keys and settings."""
        return ray_llm.backends(self.config, "", "", given)

    def run(self, sources: Sequence[Path], store: GraphStore | None = None) -> Summary:
        """Compute every unfinished shard; images ``store`` holds current work for are
        skipped (unless ``force``), as by the local executor."""
        cfg, opt = self.config, self.options
        items = list(iter_sources(sources, captions=cfg.captions, image_root=cfg.image_root))
        items = items[: cfg.limit] if cfg.limit is not None else items
        shards = [items[i : i + opt.shard_size] for i in range(0, len(items), opt.shard_size)]
        manifest = self._manifest(items, len(shards))
        summary = Summary(run_id=manifest["run"]["id"])
        todo = [k for k in range(len(shards)) if not S.is_complete(self.root, k)]
        rows = [source_row(k, j, it) for k in todo for j, it in enumerate(shards[k])]
        if rows and store is not None and store.stats().images:
            self._known(rows, store)
        if rows:
            self._execute(rows, {k: len(shards[k]) for k in todo}, summary)
        self.shards_total, self.shards_run = len(shards), len(todo)
        for step, seconds in self.sink.close().items():
            summary.add_time(step, seconds)
        return summary

    def _known(self, rows: list[dict[str, Any]], store: GraphStore) -> None:
        """Each row's stored image, looked up per shard by the ids a light step hashed."""
        import ray

        ray_init(self.options)
        ids = ray.data.from_items(rows).map(with_id, num_cpus=LIGHT_CPUS).take_all()
        by_shard: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for r in ids:
            by_shard[r["shard"]].append(r)
        place = {(r["shard"], r["seq"]): r for r in rows}
        for _, shard in sorted(by_shard.items()):
            shard.sort(key=lambda r: r["seq"])
            probes = [
                Probe(r["id"], source_captions(r), r["description"]) for r in shard if r["id"]
            ]
            known = look_up(store, probes, self.work)
            for r in shard:
                stored = known.get(r["id"])
                if stored is not None:
                    place[r["shard"], r["seq"]]["known"] = stored.model_dump_json()

    def _manifest(self, items: list[SourceItem], n_shards: int) -> dict[str, Any]:
        cfg = {f.name: getattr(self.config, f.name) for f in dataclasses.fields(self.config)}
        given = (self.given.extractor, self.given.miner)
        backends = [(b.name, b.settings()) for b in given if b is not None]
        settings = {"config": cfg, "backends": backends, "shard_size": self.options.shard_size}
        job = settings_key(
            "ray-job",
            json.loads(json.dumps(settings, default=str)),
            *(json.dumps([it.uri, it.captions, it.split, it.description]) for it in items),
        )
        run = run_record(
            self.work, self.work.run_id, engine="ray", shard_size=self.options.shard_size
        )
        return S.start_job(
            self.root, job, {"items": len(items), "shards": n_shards}, R.run_row(run)
        )

    # -- the job ------------------------------------------------------------------
    def _execute(self, rows: list[dict[str, Any]], expected: dict[int, int], s: Summary) -> None:
        import ray

        ray_init(self.options)
        ray.data.DataContext.get_current().enable_progress_bars = self.options.progress
        schema = pa.Table.from_pylist(rows).schema  # one for all blocks
        ds: Any = ray.data.from_arrow(
            [
                pa.Table.from_pylist(rows[a:b], schema=schema)
                for a, b in block_bounds(len(rows), self.config)
            ]
        )
        for stage in (ExtractStage, MineStage):
            ds = self._stage(ds, stage, s.run_id)
        try:
            self._gather(ds, expected, s)
        except EvokeGraphError:
            raise
        except Exception as exc:  # a stage raised, or the cluster went away
            done = sum(S.is_complete(self.root, k) for k in expected)
            raise EvokeGraphError(
                f"the Ray job stopped ({cause(exc)}); {done} of {len(expected)} shards to do "
                f"are finished in {self.root}; run the same command again to finish the others"
            ) from exc

    def _stage(self, ds: Any, stage: type, run_id: str) -> Any:
        """One step as an actor pool; a vLLM backend's as prompt -> processor -> parse."""
        import ray

        opt = self.options
        args = {"config": self.config, "run_id": run_id, "given": self.given}
        common: dict[str, Any] = {"batch_size": self.config.batch_size, "batch_format": "pyarrow"}
        spec = ray_llm.vllm_spec(self.config, stage.step)  # type: ignore[attr-defined]
        if spec is None:  # Ray Data restarts a dead actor and retries its batch (its defaults)
            common["batch_size"] = None  # a block (block_bounds) is a batch
            common["compute"] = ray.data.ActorPoolStrategy(size=opt.workers)
            common["num_cpus"] = opt.cpus_per_worker
            common |= {"num_gpus": opt.gpus_per_worker} if opt.gpus_per_worker else {}
            return ds.map_batches(stage, fn_constructor_kwargs=args, **common)
        # prompts and parsing run no model: small pools of a fraction of a CPU
        common["num_cpus"] = min(opt.cpus_per_worker, LIGHT_CPUS)
        common["compute"] = ray.data.ActorPoolStrategy(min_size=1, max_size=opt.workers)
        ds = ds.map_batches(stage, fn_constructor_kwargs={**args, "phase": "prompt"}, **common)
        step = stage.step  # type: ignore[attr-defined]
        ds = ray_llm.processor(self.config, step, spec, opt.workers, opt.gpus_per_worker)(ds)
        return ds.map_batches(stage, fn_constructor_kwargs={**args, "phase": "parse"}, **common)

    def _gather(self, ds: Any, expected: dict[int, int], s: Summary) -> None:
        got: dict[int, list[Part]] = defaultdict(list)
        sources: dict[int, int] = defaultdict(int)  # source items accounted for
        declared: dict[int, int] = defaultdict(int)  # image rows announced ...
        images: dict[int, int] = defaultdict(int)  # ... and received
        cols = ["shard", "seq", "n", "items", "work", "failures", "summary"]
        for batch in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
            for r in batch.select(cols).to_pylist():
                k = r["shard"]
                fails = [Failure.model_validate(f) for f in json.loads(r["failures"])]
                if r["work"]:
                    w = Work.model_validate_json(r["work"])
                    got[k].append(((r["seq"], 0), [w.entry], w.failures + fails))
                    images[k] += 1
                    self.arrivals.append(time.perf_counter())
                else:
                    got[k].append(((r["seq"], 1), [], fails))
                if r["summary"]:
                    s.merge(Summary.from_json(json.loads(r["summary"])))
                sources[k] += r["n"]
                declared[k] += r["items"]
                if sources[k] == expected[k] and images[k] == declared[k]:
                    self._write(k, got.pop(k))
        missing = sorted(k for k in expected if not S.is_complete(self.root, k))
        if missing:
            raise UserInputError(
                f"{len(missing)} shard(s) unfinished in {self.root}; run the same command again"
            )

    def _write(self, k: int, parts: list[Part]) -> None:
        parts.sort(key=lambda p: p[0])
        entries = [e for _, es, _ in parts for e in es]
        failures = [f for _, _, fs in parts for f in fs]
        self.sink.put(Outcome(entries, failures, set(), False, Summary(self.context.run_id)), k)


def ray_ingest(
    store: GraphStore,
    config: IngestConfig,
    sources: Sequence[Path],
    options: RayOptions,
    context: RunContext | None = None,
) -> Summary:
    """Shards for ``sources`` (skipping the store's current work unless force), then
    their load into ``store``; the summary's ``shards`` tells of both."""
    from evokegraph.graph import bulk

    if config.dry_run:
        raise UserInputError("--dry-run is for --engine local; drop it or use --engine local")
    job = RayIngest(config, options, context=context)
    store.ensure_schema()
    summary = job.run(sources, store=store)
    report = bulk.load(store, S.open_shards(job.root))
    summary.shards = ShardRun(job.root, job.shards_total, job.shards_run, report)
    return summary
