"""The Ray executor's actor stages: the steps of :mod:`evokegraph.ingest.batchwork`
over Ray Data rows.

A row between stages is one image, carrying its :class:`~evokegraph.ingest.batchwork.Work`
as the record's own JSON (``work``), or, once per batch and shard, the rest of
that batch: its decode failures and how many source items (``n``) and image rows
(``items``) it stands for, so the driver knows when a shard is whole. A stage's
own counts and times ride as one :class:`Summary` JSON on its first row.
``seq`` orders rows within a shard as the sources were listed; ``llm_request``
is an image's model request for Ray's LLM processor (:mod:`evokegraph.ingest.ray_llm`).

Each stage builds its :class:`BatchWork` and loads its models in ``__init__``,
once per actor, not on its first batch.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evokegraph.images import read_bytes, sha256_bytes
from evokegraph.ingest import ray_llm
from evokegraph.ingest.batchwork import BatchWork, StoredImage, Summary, Work
from evokegraph.ingest.config import IngestConfig, RayOptions
from evokegraph.ingest.sources import SourceItem
from evokegraph.ingest.stages import BY_NAME, Backends
from evokegraph.records import Failure
from evokegraph.stage_keys import STAGE_ASSOCIATIONS, STAGE_ELEMENTS

# the columns of every row between stages (the processor keeps them too)
COLUMNS = ray_llm.CARRY + ("llm_request",)


def row(shard: int, seq: int, **cols: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"shard": shard, "seq": seq, "n": 0, "items": 0, "work": ""}
    out.update({"failures": "[]", "summary": "", "llm_request": ""})
    out.update(cols)
    return out


def columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {k: [r[k] for r in rows] for k in COLUMNS}


def dump_failures(failures: Sequence[Failure]) -> str:
    return json.dumps([f.model_dump(mode="json") for f in failures])


def add_summary(rows: list[dict[str, Any]], s: Summary) -> None:
    """Put a stage's counts and times on its first row (the driver adds them up)."""
    if rows:
        first = rows[0]["summary"]
        total = Summary.from_json(json.loads(first)) if first else Summary(s.run_id)
        rows[0]["summary"] = json.dumps(total.merge(s).to_json())


class Stage:
    """One stage's actor: the shared batch work, and for a vLLM backend the phase:
    ``all`` (the backend answers itself), ``prompt`` (its model requests are
    recorded for Ray's LLM processor) or ``parse`` (it reads the processor's
    answers): the same backend code either way."""

    step = ""  # "elements" or "associations": the backend this stage may hand to vLLM

    def __init__(
        self, config: IngestConfig, run_id: str, given: Backends = BY_NAME, phase: str = "all"
    ) -> None:
        self.phase = phase
        # a vLLM backend never loads its model in these actors (the processor runs it)
        self.work = BatchWork(config, run_id, ray_llm.backends(config, self.step, phase, given))
        self.run_id = run_id
        if phase == "all":
            self.work.load(steps=(self.step,))
        self.ready_at: float | None = time.time()  # sent with the first batch (stamp)

    def stamp(self, summary: Summary) -> Summary:
        """The first batch's summary says when this actor's models were loaded."""
        if self.ready_at is not None:
            summary.ready.setdefault(self.step, []).append(self.ready_at)
            self.ready_at = None
        return summary

    @property
    def engine(self) -> Any:
        backend: Any = self.work.extractor if self.step == STAGE_ELEMENTS else self.work.miner
        return backend.engine

    def record(
        self, rows: list[dict[str, Any]], todo: list[tuple[dict[str, Any], Work]], run: Any
    ) -> None:
        """Run the backend on the prompt recorder (``run``); each work to do gets its
        request on its row, every other row none."""
        reqs = ray_llm.record_requests(self.engine, run, len(todo))
        for r in rows:
            r["llm_request"] = ""
        for (r, _), req in zip(todo, reqs, strict=True):
            r["llm_request"] = req

    def replay(self, rows: list[dict[str, Any]]) -> None:
        """Hand the processor's answers to the replay engine, in the rows' order."""
        todo = [r for r in rows if r["llm_request"]]
        ray_llm.replay(self.engine, [(r["llm_request"], r["llm_answer"]) for r in todo])


def works_of(rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], Work]]:
    return [(r, Work.model_validate_json(r["work"])) for r in rows if r["work"]]


class ExtractStage(Stage):
    """Source item rows -> one row per decoded image (its planned, extracted work),
    plus one per batch and shard (decode failures, counts)."""

    step = STAGE_ELEMENTS

    def __call__(self, batch: Any) -> dict[str, list[Any]]:
        rows = batch.to_pylist()
        if self.phase == "parse":
            self.replay(rows)
            add_summary(rows, self.stamp(self._extract(works_of(rows), {})))
            return columns(rows)
        groups: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for r in rows:
            groups[r["shard"]].append(r)
        out: list[dict[str, Any]] = []
        for shard, group in sorted(groups.items()):
            out += self._shard(shard, group)
        return columns(out)

    def _shard(self, shard: int, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        src = [
            SourceItem(
                Path(r["path"]), list(r["captions"]), r["split"], r["origin"], r["description"]
            )
            for r in rows
        ]
        known = [StoredImage.model_validate_json(r["known"]) for r in rows if r["known"]]
        seq = {r["path"]: r["seq"] for r in reversed(rows)}  # the first listing's place
        decoded = self.work.decode(src)
        planned = self.work.plan(decoded.items, {k.record.id: k for k in known})
        out = [row(shard, seq[w.path], work=w.model_dump_json()) for w in planned.works]
        pairs = list(zip(out, planned.works, strict=True))
        summary = self.stamp(decoded.summary.merge(planned.summary))
        items = {it.record.id: it for it in decoded.items}
        if self.phase == "prompt":  # extracted in the parse phase, from the processor's answers
            todo = [(r, w) for r, w in pairs if w.todo == STAGE_ELEMENTS]
            works = [w for _, w in todo]
            self.record(out, todo, lambda: self.work.extract_works(works, items))
        else:
            summary.merge(self._extract(pairs, items))
        last = row(shard, min(r["seq"] for r in rows), n=len(rows), items=len(out))
        last.update(failures=dump_failures(decoded.failures), summary=json.dumps(summary.to_json()))
        return [*out, last]

    def _extract(self, pairs: list[tuple[dict[str, Any], Work]], items: Any) -> Summary:
        s = self.work.extract_works([w for _, w in pairs], items).summary
        for r, w in pairs:
            r["work"] = w.model_dump_json()
        return s


class MineStage(Stage):
    """Image rows with their works -> the same rows, mined; other rows pass through."""

    step = STAGE_ASSOCIATIONS

    def __call__(self, batch: Any) -> dict[str, list[Any]]:
        rows = batch.to_pylist()
        pairs = works_of(rows)
        works = [w for _, w in pairs]
        if self.phase == "prompt":  # the rows keep their works as they came
            todo = [(r, w) for r, w in pairs if w.todo == STAGE_ASSOCIATIONS]
            self.record(rows, todo, lambda: self.work.mine([w for _, w in todo]))
            return columns(rows)
        if self.phase == "parse":
            self.replay(rows)
        out = self.work.mine(works)
        for r, w in pairs:
            r["work"] = w.model_dump_json()
        add_summary(rows, self.stamp(out.summary))
        return columns(rows)


def source_row(k: int, j: int, it: SourceItem) -> dict[str, Any]:
    return {
        "shard": k,
        "seq": j,
        "path": str(it.path),
        "captions": it.captions,
        "split": it.split,
        "origin": it.origin,
        "description": it.description,
        "known": "",
    }


def source_captions(r: dict[str, Any]) -> list[str]:
    return [c for c in r["captions"] or () if c.strip()]  # as load_image keeps them


def with_id(r: dict[str, Any]) -> dict[str, Any]:
    """A source row with its image id (sha256 of the file's bytes; '' if unreadable)."""
    try:
        image_id = sha256_bytes(read_bytes(Path(r["path"])))
    except Exception:  # the decode step records why
        image_id = ""
    return {
        "shard": r["shard"],
        "seq": r["seq"],
        "id": image_id,
        "captions": r["captions"],
        "description": r["description"],
    }


def cause(exc: BaseException) -> str:
    """The user-code error line of a Ray task error (its first ``XxxError: ...`` line)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    errors = [ln for ln in lines if re.match(r"^[\w.]+(Error|Exception|Exit)\b.*?:", ln)]
    user = [ln for ln in errors if not ln.startswith("ray.")]  # not Ray's wrapper lines
    return (user or errors or lines or [type(exc).__name__])[0][:300]


def ray_init(opt: RayOptions) -> None:
    import ray

    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    address = opt.address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(num_cpus=opt.local_cpus, include_dashboard=False, log_to_driver=False)
