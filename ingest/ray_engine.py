"""``evokegraph ingest --engine ray``: ingestion on Ray Data, into Parquet shards.

The sources are listed on the driver and cut into shards of ``shard_size``
items (in source order). Each unfinished shard's items flow through two
``map_batches`` stages, each an actor pool of ``workers`` actors (with
``gpus_per_worker`` GPUs each where asked for):

* ``ExtractStage``: decode/validate, plan, element extraction;
* ``MineStage``: association mining, then the optional canonicalization and
  grounding.

Both call the one :class:`~evokegraph.ingest.batchwork.BatchWork`, the same
code as the single-process runner. The driver gathers each shard's results and
writes it with :func:`~evokegraph.graph.shards.write_shard` (Parquet per table,
then a completion marker), so a job that is killed or fails is run again with
the same command and redoes only unfinished shards. Actors that die are
restarted by Ray and their batches retried. The shards are then loaded into
the knowledge base with :func:`evokegraph.graph.bulk.load` (``evokegraph load``).

The engine does not consult the knowledge base for skipping: every listed
image is computed, and the load replaces each image's stored work.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evokegraph.errors import EvokeGraphError, UserInputError
from evokegraph.graph import rows as R
from evokegraph.graph import shards as S
from evokegraph.ingest.batchwork import BatchWork, Summary, ratings
from evokegraph.ingest.runner import IngestConfig, new_run_id, run_record
from evokegraph.ingest.sources import SourceItem, iter_sources
from evokegraph.ingest.stages import AssociationMiner, ElementExtractor, Extraction, ImageItem
from evokegraph.records import Failure, GraphBatch, ImageEntry, ImageRecord, utcnow


@dataclass
class RayOptions:
    shards: Path | None = None  # required by RayIngest; the CLI defaults it to DB + .shards
    address: str | None = None  # ray://host:10001, host:6379, "auto"; else RAY_ADDRESS or local
    workers: int = 1  # actors per model stage
    gpus_per_worker: float = 0.0
    cpus_per_worker: float = 1.0
    shard_size: int = 1024
    local_cpus: int | None = None  # local cluster only
    progress: bool = False


def _summary_json(s: Summary) -> str:
    return json.dumps({**s.as_dict(), "seconds": s.seconds})


def _summary_from(blob: str) -> Summary:
    d = json.loads(blob)
    s = Summary(run_id=d["run"], **{k: d[k] for k in Summary.COUNTS})
    s.failures_by_stage.update(d["failures_by_stage"])
    s.seconds = dict(d["seconds"])
    return s


class _Stage:
    def __init__(
        self,
        config: IngestConfig,
        run_id: str,
        extractor: ElementExtractor | None = None,
        miner: AssociationMiner | None = None,
    ) -> None:
        self.work = BatchWork(config, run_id, extractor=extractor, miner=miner)
        self.run_id = run_id


class ExtractStage(_Stage):
    """Rows of source items -> per (batch, shard): decoded records and extractions."""

    def __call__(self, batch: Any) -> dict[str, list[Any]]:
        groups: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for row in batch.to_pylist():
            groups[row["shard"]].append(row)
        out: dict[str, list[Any]] = defaultdict(list)
        for shard, rows in sorted(groups.items()):
            s, failures = Summary(self.run_id), []
            src = [
                SourceItem(Path(r["path"]), list(r["captions"]), r["split"], r["origin"])
                for r in rows
            ]
            items = self.work.decode(src, s, failures)
            s.new += len(items)  # the engine does not consult the store: all are new here
            _, need_el, _, _ = self.work.plan(items, {}, s)
            extractions = self.work.extract(need_el, s, failures)
            out["shard"].append(shard)
            out["seq"].append(min(r["seq"] for r in rows))
            out["n"].append(len(rows))
            out["paths"].append(json.dumps([str(it.path) for it in items]))
            out["records"].append(json.dumps([it.record.model_dump(mode="json") for it in items]))
            out["extractions"].append(
                json.dumps({k: _extraction_json(v) for k, v in sorted(extractions.items())})
            )
            out["failures"].append(json.dumps([f.model_dump(mode="json") for f in failures]))
            out["summary"].append(_summary_json(s))
        return dict(out)


class MineStage(_Stage):
    """Decoded records and extractions -> image entries and failures."""

    def __call__(self, batch: Any) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = defaultdict(list)
        keep = self.work.grounder is not None  # grounding needs the pixels again
        for row in batch.to_pylist():
            s = _summary_from(row["summary"])
            failures = [Failure.model_validate(f) for f in json.loads(row["failures"])]
            items = [
                _item(ImageRecord.model_validate(r), Path(p), keep, self.work)
                for r, p in zip(json.loads(row["records"]), json.loads(row["paths"]), strict=True)
            ]
            extractions = {k: _extraction(v) for k, v in json.loads(row["extractions"]).items()}
            entries, need_el, _, _ = self.work.plan(items, {}, Summary(self.run_id))
            self.work.mine(need_el, [], extractions, entries, s, failures)
            for k in ("shard", "seq", "n"):
                out[k].append(row[k])
            out["entries"].append(json.dumps([e.model_dump(mode="json") for e in entries.values()]))
            out["failures"].append(json.dumps([f.model_dump(mode="json") for f in failures]))
            out["summary"].append(_summary_json(s))
        return dict(out)


def _item(record: ImageRecord, path: Path, pixels: bool, work: BatchWork) -> ImageItem:
    if pixels:
        from evokegraph.ingest.images import load_image

        loaded = load_image(path, uri=record.uris[0], options=work.decode_options)
        return ImageItem(record=record, path=path, image=loaded.image)
    return ImageItem(record=record, path=path)


def _extraction_json(ex: Extraction) -> dict[str, Any]:
    return {
        "description": ex.description,
        "elements": [e.model_dump(mode="json") for e in ex.elements],
        "usage": ex.usage,
    }


def _extraction(d: dict[str, Any]) -> Extraction:
    from evokegraph.records import Element

    return Extraction(
        description=d["description"],
        elements=[Element.model_validate(e) for e in d["elements"]],
        usage=d.get("usage", {}),
    )


class RayIngest:
    """One sharded ingestion job on Ray Data."""

    def __init__(
        self,
        config: IngestConfig,
        options: RayOptions,
        *,
        extractor: ElementExtractor | None = None,
        miner: AssociationMiner | None = None,
    ) -> None:
        self.config, self.options = config, options
        self.extractor, self.miner = extractor, miner  # shipped to the actors when given
        if options.shards is None:
            raise UserInputError("--engine ray needs a shards folder: pass --shards DIR")
        self.root = Path(options.shards)
        self.shards_total = self.shards_run = 0

    def run(self, sources: Sequence[Path]) -> Summary:
        cfg, opt = self.config, self.options
        items = list(iter_sources(sources, captions=cfg.captions, image_root=cfg.image_root))
        items = items[: cfg.limit] if cfg.limit is not None else items
        shards = [items[i : i + opt.shard_size] for i in range(0, len(items), opt.shard_size)]
        manifest = self._manifest(items, len(shards))
        summary = Summary(run_id=manifest["run"]["id"])
        todo = [k for k in range(len(shards)) if not S.is_complete(self.root, k)]
        if todo:
            rows = [
                {
                    "shard": k,
                    "seq": j,
                    "path": str(it.path),
                    "captions": it.captions,
                    "split": it.split,
                    "origin": it.origin,
                }
                for k in todo
                for j, it in enumerate(shards[k])
            ]
            self._execute(rows, {k: len(shards[k]) for k in todo}, summary)
        self.shards_total, self.shards_run = len(shards), len(todo)
        return summary

    # -- the job ------------------------------------------------------------------
    def _manifest(self, items: list[SourceItem], n_shards: int) -> dict[str, Any]:
        # settings only, JSON-able (a progress sink in the options is not a setting)
        cfg = {f.name: getattr(self.config, f.name) for f in dataclasses.fields(self.config)}
        backends = [(b.name, b.settings()) for b in (self.extractor, self.miner) if b is not None]
        job = _job_key(
            "ray-job",
            {"config": cfg, "backends": backends, "shard_size": self.options.shard_size},
            *(json.dumps([it.uri, it.captions, it.split]) for it in items),
        )
        path = self.root / S.MANIFEST
        if path.is_file():
            old = json.loads(path.read_text())
            if old.get("job") != job:
                raise UserInputError(
                    f"{self.root} holds the shards of another job (other inputs or settings); "
                    "pass a new --shards folder, or delete that one to start over"
                )
            return old
        self.root.mkdir(parents=True, exist_ok=True)
        work = BatchWork(self.config, new_run_id(), extractor=self.extractor, miner=self.miner)
        run = run_record(work, work.run_id, engine="ray", shard_size=self.options.shard_size)
        manifest = {
            "format": S.FORMAT,
            "job": job,
            "shards": n_shards,
            "items": len(items),
            "run": R.run_row(run),
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
        os.replace(tmp, path)
        return manifest

    def _execute(self, rows: list[dict[str, Any]], expected: dict[int, int], s: Summary) -> None:
        import ray

        _ray_init(self.options)
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = self.options.progress
        opt = self.options
        args = {
            "config": self.config,
            "run_id": s.run_id,
            "extractor": self.extractor,
            "miner": self.miner,
        }
        stage_args: dict[str, Any] = {
            "batch_size": self.config.batch_size,
            "batch_format": "pyarrow",
            # Ray Data restarts a dead actor and retries its batch (max_restarts=-1,
            # max_task_retries=-1 are its defaults for actor pools)
            "compute": ray.data.ActorPoolStrategy(size=opt.workers),
            "num_cpus": opt.cpus_per_worker,
            "fn_constructor_kwargs": args,
        }
        if opt.gpus_per_worker:
            stage_args["num_gpus"] = opt.gpus_per_worker
        blocks = max(1, min(len(rows) // max(1, self.config.batch_size), 200))
        ds = ray.data.from_items(rows, override_num_blocks=blocks)
        ds = ds.map_batches(ExtractStage, **stage_args).map_batches(MineStage, **stage_args)
        try:
            self._gather(ds, expected, s)
        except EvokeGraphError:
            raise
        except Exception as exc:  # a stage raised, or the cluster went away
            done = sum(S.is_complete(self.root, k) for k in expected)
            raise EvokeGraphError(
                f"the Ray job stopped ({_cause(exc)}); {done} of "
                f"{len(expected)} shards to do are finished in {self.root}; run the same "
                "command again to finish the others"
            ) from exc

    def _gather(self, ds: Any, expected: dict[int, int], s: Summary) -> None:
        got: dict[int, list[tuple[int, list[ImageEntry], list[Failure]]]] = defaultdict(list)
        seen: dict[int, int] = defaultdict(int)
        for batch in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
            for row in batch.to_pylist():
                k = row["shard"]
                entries = [ImageEntry.model_validate(e) for e in json.loads(row["entries"])]
                fails = [Failure.model_validate(f) for f in json.loads(row["failures"])]
                got[k].append((row["seq"], entries, fails))
                s.merge(_summary_from(row["summary"]))
                seen[k] += row["n"]
                if seen[k] == expected[k]:
                    self._write(k, got.pop(k), s)
        missing = sorted(k for k in expected if not S.is_complete(self.root, k))
        if missing:
            raise UserInputError(
                f"{len(missing)} shard(s) unfinished in {self.root}; run the same command again"
            )

    def _write(
        self, k: int, parts: list[tuple[int, list[ImageEntry], list[Failure]]], s: Summary
    ) -> None:
        t = time.perf_counter()
        parts.sort(key=lambda p: p[0])
        entries = [e for _, es, _ in parts for e in es]
        failures = [f for _, _, fs in parts for f in fs]
        batch = GraphBatch(images=entries, failures=failures, concepts=ratings(entries))
        counts = {"images": len(entries), "failures": len(failures), "at": utcnow().isoformat()}
        S.write_shard(self.root, k, batch, counts)
        s.add_time("write_shards", time.perf_counter() - t)


def _cause(exc: BaseException) -> str:
    """The user-code error line of a Ray task error (its first ``XxxError: ...`` line)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    errors = [ln for ln in lines if re.match(r"^[\w.]+(Error|Exception|Exit)\b.*?:", ln)]
    user = [ln for ln in errors if not ln.startswith("ray.")]  # not Ray's wrapper lines
    return (user or errors or lines or [type(exc).__name__])[0][:300]


def _job_key(name: str, settings: dict[str, Any], *parts: str) -> str:
    blob = json.dumps(
        {"name": name, "settings": settings, "parts": parts},
        sort_keys=True,
        default=lambda o: str(o) if isinstance(o, Path) else type(o).__name__,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def ray_ingest_cmd(
    ctx: Any, engine: str, config: IngestConfig, sources: Sequence[Path], options: RayOptions
) -> Summary:
    """The CLI's ``ingest --engine ray``: shards, then a load into the configured store."""
    from evokegraph.cli_common import console, open_kb, state
    from evokegraph.graph import bulk

    if engine != "ray":
        raise UserInputError(f"unknown --engine {engine!r}; use local or ray")
    if config.dry_run:
        raise UserInputError("--dry-run is for --engine local; drop it or use --engine local")
    if options.shards is None:
        options.shards = Path(f"{state(ctx).store.path}.shards")
    config.miner_options.pop("progress", None)  # a terminal sink does not travel to workers
    job = RayIngest(config, options)
    summary = job.run(sources)
    console.print(
        f"shards: {job.shards_run} of {job.shards_total} computed in this run "
        f"({job.shards_total - job.shards_run} already done) in {options.shards}",
        highlight=False,
    )
    with open_kb(ctx, create=True) as kb:
        kb.ensure_schema()
        report = bulk.load(kb, S.open_shards(options.shards))
    console.print(
        f"loaded ({report.mode}) in {report.seconds['total']:.1f} s: {report.rows}",
        highlight=False,
        soft_wrap=True,
    )
    return summary


def _ray_init(opt: RayOptions) -> None:
    import ray

    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    address = opt.address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(num_cpus=opt.local_cpus, include_dashboard=False, log_to_driver=False)
