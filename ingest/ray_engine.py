"""``evokegraph ingest --engine ray``: ingestion on Ray Data, into Parquet shards.

The sources are listed on the driver and cut into shards of ``shard_size``
items (in source order). Each unfinished shard's items flow through two
``map_batches`` stages, each an actor pool of ``workers`` actors (with
``gpus_per_worker`` GPUs each where asked for):

* ``ExtractStage``: decode/validate, plan (skip what the knowledge base holds
  already), element extraction;
* ``MineStage``: association mining, then the optional canonicalization and
  grounding.

Both call the one :class:`~evokegraph.ingest.batchwork.BatchWork`, the same
code as the single-process runner. Between stages a row is one image (or, once
per batch and shard, the decode failures and counts), so a model stage's batch
is ``batch_size`` images whatever the shards. Where a model backend runs on
vLLM (``vllm:MODEL``), its model calls go through Ray Data's LLM processor
instead (:mod:`evokegraph.ingest.ray_llm`): the same backend builds the
prompts in one step and parses the answers in the next.

The driver gathers each shard's rows and writes it with
:func:`~evokegraph.graph.shards.write_shard` (Parquet per table, then a
completion marker), so a job that is killed or fails is run again with the
same command and redoes only unfinished shards. Actors that die are restarted
by Ray and their batches retried. The shards are then loaded into the
knowledge base with :func:`evokegraph.graph.bulk.load` (``evokegraph load``).

Like the single-process runner, images whose stored work is current (same
stage keys) are skipped unless ``force``: the driver reads the stored stage
keys and captions once and ships them to the actors. An image whose elements
are current but whose associations are not is recomputed whole (the actors do
not read stored elements).
"""

from __future__ import annotations

import dataclasses
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
from evokegraph.ingest import ray_llm
from evokegraph.ingest.batchwork import BatchWork, Stored, Summary, ratings, settings_key
from evokegraph.ingest.runner import IngestConfig, new_run_id, run_record
from evokegraph.ingest.sources import SourceItem, iter_sources
from evokegraph.ingest.stages import AssociationMiner, ElementExtractor, Extraction, ImageItem
from evokegraph.records import Failure, GraphBatch, ImageEntry, ImageRecord, utcnow

# image id -> (stored captions, stored stage keys): what the actors need to skip
StoredKeys = dict[str, tuple[list[str], dict[str, str]]]


# CPUs reserved per actor of a step that runs no model (prompts, answer parsing)
LIGHT_CPUS = 0.25


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


def stored_keys(store: Any) -> StoredKeys:
    """What a store holds of each image for skipping: captions and stage keys."""
    ids = store.image_ids()
    return {
        k: (list(rec.captions), keys) for k, (rec, keys) in sorted(store.image_records(ids).items())
    }


def _summary_json(s: Summary) -> str:
    return json.dumps({**s.as_dict(), "seconds": s.seconds})


def _summary_from(blob: str) -> Summary:
    d = json.loads(blob)
    s = Summary(run_id=d["run"], **{k: d[k] for k in Summary.COUNTS})
    s.failures_by_stage.update(d["failures_by_stage"])
    s.seconds = dict(d["seconds"])
    return s


def _dump(models: Sequence[Any]) -> str:
    return json.dumps([m.model_dump(mode="json") for m in models])


# The columns of a row between stages. A row is either one image (``record``:
# its decoded record after planning; ``todo``: it is to be computed, else it is
# known and current; ``extraction`` or ``failures``) or the rest of one batch's
# shard (``record`` empty: decode failures, counts). ``n`` counts source items
# and ``items`` the image rows of that batch and shard, so the driver knows a
# shard is whole; ``seq`` orders rows within a shard as the sources were listed.
# ``llm_request``: the model request of the row's image, for Ray's LLM processor.
ROW_COLUMNS = (*ray_llm.CARRY, "llm_request")


class _Stage:
    """One stage's actor: the shared batch work, and for a vLLM backend the phase.

    ``phase`` is ``all`` (the backend answers itself), ``prompt`` (the backend's
    model requests are recorded, for Ray's LLM processor) or ``parse`` (the
    backend reads the processor's answers): the same backend code either way."""

    llm_stage = ""  # "elements" or "associations": the backend this stage may hand to vLLM

    def __init__(
        self,
        config: IngestConfig,
        run_id: str,
        extractor: ElementExtractor | None = None,
        miner: AssociationMiner | None = None,
        stored: Any = None,
        phase: str = "all",
    ) -> None:
        self.phase = phase
        # a vLLM backend never loads its model in these actors (the processor runs it)
        extractor, miner = ray_llm.backends(config, self.llm_stage, phase, extractor, miner)
        self.work = BatchWork(config, run_id, extractor=extractor, miner=miner)
        self.run_id = run_id
        self.stored: StoredKeys = _resolve(stored) or {}

    @property
    def engine(self) -> Any:
        backend: Any = self.work.extractor if self.llm_stage == "elements" else self.work.miner
        return backend.engine


def _resolve(stored: Any) -> Any:
    """The stored keys, fetched from Ray's object store where shipped by reference."""
    if stored is not None and type(stored).__name__ == "ObjectRef":
        import ray

        return ray.get(stored)
    return stored


def _new_row(shard: int, seq: int, **cols: Any) -> dict[str, Any]:
    row = {
        "shard": shard,
        "seq": seq,
        "n": 0,
        "items": 0,
        "record": "",
        "path": "",
        "todo": False,
        "extraction": "",
        "failures": "[]",
        "summary": "",
        "llm_request": "",
    }
    row.update(cols)
    return row


def _columns(
    rows: list[dict[str, Any]], names: Sequence[str] = ROW_COLUMNS
) -> dict[str, list[Any]]:
    return {k: [r.get(k, "") for r in rows] for k in names}


def _add_summary(rows: list[dict[str, Any]], s: Summary) -> None:
    """Put a batch's own counts and times on one row (the driver adds them up)."""
    if rows:
        first = _summary_from(rows[0]["summary"]) if rows[0]["summary"] else Summary(s.run_id)
        first.merge(s)
        rows[0]["summary"] = _summary_json(first)


def _add_failures(
    rows: Sequence[dict[str, Any]], records: Sequence[str], found: list[Failure]
) -> None:
    by_id: dict[str, list[Failure]] = defaultdict(list)
    for f in found:
        by_id[f.image_id].append(f)
    for row, rid in zip(rows, records, strict=True):
        if rid in by_id:
            old = [Failure.model_validate(f) for f in json.loads(row["failures"])]
            row["failures"] = _dump([*old, *by_id.pop(rid)])


class ExtractStage(_Stage):
    """Rows of source items -> one row per decoded image, plus one per batch and shard
    (decode failures, counts); images to do carry their extraction (or its failure)."""

    llm_stage = "elements"

    def __call__(self, batch: Any) -> dict[str, list[Any]]:
        if self.phase == "parse":
            return self._parse(batch.to_pylist())
        groups: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for row in batch.to_pylist():
            groups[row["shard"]].append(row)
        out: list[dict[str, Any]] = []
        todo: list[tuple[dict[str, Any], ImageItem]] = []
        for shard, rows in sorted(groups.items()):
            s, failures = Summary(self.run_id), list[Failure]()
            src = [
                SourceItem(
                    Path(r["path"]), list(r["captions"]), r["split"], r["origin"], r["description"]
                )
                for r in rows
            ]
            seq = {r["path"]: r["seq"] for r in reversed(rows)}  # the first listing's place
            items = self.work.decode(src, s, failures)
            stored = self._stored(items)
            s.new += sum(it.record.id not in stored for it in items)
            _, need_el, need_assoc, _ = self.work.plan(items, stored, s)
            to_do = {it.record.id for it in need_el + need_assoc}  # stale associations: whole
            for it in items:  # skipped ones too: a known picture may come with a new uri
                row = _new_row(
                    shard,
                    seq[str(it.path)],
                    record=it.record.model_dump_json(),  # after plan: known captions merged
                    path=str(it.path),
                    todo=it.record.id in to_do,
                )
                out.append(row)
                if row["todo"]:
                    todo.append((row, it))
            out.append(
                _new_row(
                    shard,
                    min(r["seq"] for r in rows),
                    n=len(rows),
                    items=len(items),
                    failures=_dump(failures),
                    summary=_summary_json(s),
                )
            )
        items = [it for _, it in todo]
        if self.phase == "prompt":
            reqs = ray_llm.record_requests(
                self.engine, lambda: self.work.extract(items, Summary(self.run_id), []), len(items)
            )
            for (row, _), req in zip(todo, reqs, strict=True):
                row["llm_request"] = req
        else:
            self._extract([row for row, _ in todo], items)
        return _columns(out)

    def _extract(self, rows: list[dict[str, Any]], items: list[ImageItem]) -> list[dict[str, Any]]:
        s, failures = Summary(self.run_id), list[Failure]()
        extractions = self.work.extract(items, s, failures)
        for row, it in zip(rows, items, strict=True):
            ex = extractions.get(it.record.id)
            row["extraction"] = json.dumps(_extraction_json(ex)) if ex else ""
        _add_failures(rows, [it.record.id for it in items], failures)
        _add_summary(rows, s)
        return rows

    def _parse(self, rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
        """Rows with Ray's LLM processor's answers -> extractions, parsed by the backend."""
        todo = [r for r in rows if r["todo"]]
        items = [_item(ImageRecord.model_validate_json(r["record"]), Path(r["path"])) for r in todo]
        ray_llm.replay(self.engine, [(r["llm_request"], r["llm_answer"]) for r in todo])
        self._extract(todo, items)
        return _columns(rows)

    def _stored(self, items: list[ImageItem]) -> Stored:
        out: Stored = {}
        for it in items:
            found = self.stored.get(it.record.id)
            if found is not None:
                out[it.record.id] = (it.record.model_copy(update={"captions": found[0]}), found[1])
        return out


class MineStage(_Stage):
    """Image rows with extractions -> image entries; other rows pass through."""

    llm_stage = "associations"

    def __call__(self, batch: Any) -> dict[str, list[Any]]:
        rows = batch.to_pylist()
        keep = self.work.grounder is not None  # grounding needs the pixels again
        todo = [r for r in rows if r["record"] and r["extraction"]]
        items = [
            _item(ImageRecord.model_validate_json(r["record"]), Path(r["path"]), keep, self.work)
            for r in todo
        ]
        extractions = {
            it.record.id: _extraction(json.loads(r["extraction"]))
            for r, it in zip(todo, items, strict=True)
        }
        entries, need_el, _, _ = self.work.plan(items, {}, Summary(self.run_id))
        s, failures = Summary(self.run_id), list[Failure]()
        if self.phase == "prompt":
            reqs = ray_llm.record_requests(
                self.engine,
                lambda: self.work.mine(need_el, [], extractions, entries, Summary(self.run_id), []),
                len(need_el),
            )
            for row in rows:
                row["llm_request"] = ""
            for row, req in zip(todo, reqs, strict=True):
                row["llm_request"] = req
            return _columns(rows)
        if self.phase == "parse":
            ray_llm.replay(self.engine, [(r["llm_request"], r["llm_answer"]) for r in todo])
        self.work.mine(need_el, [], extractions, entries, s, failures)
        for row in rows:
            if not row["record"]:
                row["entries"] = "[]"
                continue
            rec = ImageRecord.model_validate_json(row["record"])
            # an image skipped, or whose extraction failed: its record alone
            row["entries"] = _dump([entries.get(rec.id) or ImageEntry(image=rec)])
        _add_failures(todo, [it.record.id for it in items], failures)
        _add_summary(rows, s)
        return _columns(rows, (*ROW_COLUMNS, "entries"))


def _item(
    record: ImageRecord, path: Path, pixels: bool = False, work: BatchWork | None = None
) -> ImageItem:
    if pixels and work is not None:
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
        # time.perf_counter() as each image's row reaches the driver: the rate once warm
        self.arrivals: list[float] = []

    def run(self, sources: Sequence[Path], stored: StoredKeys | None = None) -> Summary:
        """Compute every unfinished shard. ``stored`` (:func:`stored_keys` of the target
        knowledge base): images whose stored work is current are skipped, unless
        ``force`` (as the single-process runner, which reads the store)."""
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
                    "description": it.description,
                }
                for k in todo
                for j, it in enumerate(shards[k])
            ]
            self._execute(rows, {k: len(shards[k]) for k in todo}, summary, stored or {})
        self.shards_total, self.shards_run = len(shards), len(todo)
        return summary

    # -- the job ------------------------------------------------------------------
    def _manifest(self, items: list[SourceItem], n_shards: int) -> dict[str, Any]:
        # settings only, JSON-able (a progress sink in the options is not a setting)
        cfg = {f.name: getattr(self.config, f.name) for f in dataclasses.fields(self.config)}
        backends = [(b.name, b.settings()) for b in (self.extractor, self.miner) if b is not None]
        settings = {"config": cfg, "backends": backends, "shard_size": self.options.shard_size}
        job = settings_key(
            "ray-job",
            # objects in options hash by type name: a key stable from run to run
            json.loads(json.dumps(settings, default=_stable)),
            *(json.dumps([it.uri, it.captions, it.split, it.description]) for it in items),
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
        # vllm: backends here only for their settings, on stand-in engines (no model loaded)
        extractor, miner = ray_llm.backends(self.config, "", "", self.extractor, self.miner)
        work = BatchWork(self.config, new_run_id(), extractor=extractor, miner=miner)
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

    def _execute(
        self,
        rows: list[dict[str, Any]],
        expected: dict[int, int],
        s: Summary,
        stored: StoredKeys,
    ) -> None:
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
            "stored": ray.put(stored) if stored else None,
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
        ds: Any = ray.data.from_items(rows, override_num_blocks=blocks)
        for stage in (ExtractStage, MineStage):
            spec = ray_llm.vllm_spec(self.config, stage.llm_stage)
            if spec is None:
                ds = ds.map_batches(stage, **stage_args)
                continue
            # the backend's model calls through Ray Data's LLM processor (vLLM): the
            # stage records its prompts, the processor answers, the stage parses.
            # Those two steps run no model: small pools (1..workers actors) of a
            # fraction of a CPU, so that four pools and the processor's fit
            phase: dict[str, Any] = {
                "batch_size": self.config.batch_size,
                "batch_format": "pyarrow",
                "compute": ray.data.ActorPoolStrategy(min_size=1, max_size=opt.workers),
                "num_cpus": min(opt.cpus_per_worker, LIGHT_CPUS),
            }
            ds = ds.map_batches(stage, fn_constructor_kwargs={**args, "phase": "prompt"}, **phase)
            ds = ray_llm.processor(
                self.config, stage.llm_stage, spec, opt.workers, opt.gpus_per_worker
            )(ds)
            ds = ds.map_batches(stage, fn_constructor_kwargs={**args, "phase": "parse"}, **phase)
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
        got: dict[int, list[tuple[tuple[int, int], list[ImageEntry], list[Failure]]]]
        got = defaultdict(list)
        sources: dict[int, int] = defaultdict(int)  # source items accounted for
        declared: dict[int, int] = defaultdict(int)  # image rows announced ...
        images: dict[int, int] = defaultdict(int)  # ... and received
        for batch in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
            for row in batch.select(
                ["shard", "seq", "n", "items", "record", "entries", "failures", "summary"]
            ).to_pylist():
                k = row["shard"]
                entries = [ImageEntry.model_validate(e) for e in json.loads(row["entries"])]
                fails = [Failure.model_validate(f) for f in json.loads(row["failures"])]
                got[k].append(((row["seq"], 0 if row["record"] else 1), entries, fails))
                if row["summary"]:
                    s.merge(_summary_from(row["summary"]))
                sources[k] += row["n"]
                declared[k] += row["items"]
                images[k] += bool(row["record"])
                if row["record"]:
                    self.arrivals.append(time.perf_counter())
                if sources[k] == expected[k] and images[k] == declared[k]:
                    self._write(k, got.pop(k), s)
        missing = sorted(k for k in expected if not S.is_complete(self.root, k))
        if missing:
            raise UserInputError(
                f"{len(missing)} shard(s) unfinished in {self.root}; run the same command again"
            )

    def _write(
        self,
        k: int,
        parts: list[tuple[tuple[int, int], list[ImageEntry], list[Failure]]],
        s: Summary,
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


def _stable(o: object) -> str:
    return str(o) if isinstance(o, Path) else type(o).__name__


def ray_ingest(
    store: Any, config: IngestConfig, sources: Sequence[Path], options: RayOptions
) -> tuple[RayIngest, Summary, Any]:
    """Shards for ``sources`` (skipping the store's current work unless force), then
    their load into ``store``: (the job, its summary, the load report)."""
    from evokegraph.graph import bulk

    if config.dry_run:
        raise UserInputError("--dry-run is for --engine local; drop it or use --engine local")
    config.miner_options.pop("progress", None)  # a terminal sink does not travel to workers
    job = RayIngest(config, options)
    store.ensure_schema()
    summary = job.run(sources, stored=stored_keys(store))  # with force: for the counts only
    report = bulk.load(store, S.open_shards(job.root))
    return job, summary, report


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
