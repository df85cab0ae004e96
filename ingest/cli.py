"""CLI: ``ingest``, ``failures``, ``sample``."""

from __future__ import annotations

import inspect
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from evokegraph.cli_common import (
    BackendOptionOpt,
    DtypeOpt,
    LlmApiKeyOpt,
    LlmBaseUrlOpt,
    MaxModelLenOpt,
    PresetOpt,
    TrustRemoteCodeOpt,
    VlmApiKeyOpt,
    VlmBaseUrlOpt,
    console,
    err_console,
    eval_app,
    open_kb,
    print_json,
    print_table,
    progress_bar,
    state,
    typer_parameters,
)
from evokegraph.errors import UserInputError
from evokegraph.ingest.caption_text import NO_CAPTION
from evokegraph.ingest.config import IngestFlags, RayOptions
from evokegraph.ingest.runner import IngestConfig, Summary
from evokegraph.options import build, option_fields
from evokegraph.runs import Progress

EXIT_FAILURES = 3  # the run finished, but some images or answers were recorded as failures


class RichStages(Progress):
    """One progress bar per stage, with rates; a backend's one-time build (the
    contextual miner's vocabulary) as a bar of its own, or one line without bars."""

    STAGES = ("decode", "elements", "associations", "write")

    def __init__(self, bar: Any) -> None:
        self.bar = bar
        self.tasks = {s: bar.add_task(s, total=None) for s in self.STAGES} if bar else {}
        self.builds: dict[str, Any] = {}

    def advance(self, stage: str, n: int) -> None:
        if self.bar is not None:
            self.bar.advance(self.tasks[stage], n)

    def build(self, what: str, done: int, total: int) -> None:
        if self.bar is None:
            if what not in self.builds:
                err_console.print(
                    f"embedding the {what} vocabulary ({total} words) once; later runs load it"
                )
                self.builds[what] = True
            return
        if what not in self.builds:
            self.builds[what] = self.bar.add_task(f"{what} vocabulary", total=total)
        self.bar.update(self.builds[what], completed=done)


# what each count is, worded so that no two read as a contradiction
SUMMARY_LABELS = {
    "seen": "files read from the sources",
    "new": "new images (not stored before)",
    "skipped": "images already up to date (skipped)",
    "failed": "failures recorded (per file and stage)",
    "elements": "elements written",
    "associations": "associations written",
    "covered": "elements with words at every distance (>=2 at 1-3, >=1 at 4-5)",
}


def _print_summary(s: Summary, dry_run: bool, sources: list[Path] | None = None) -> None:
    from evokegraph.ingest.sources import skipped_files

    d = s.as_dict()
    rows = [{"what": label, "value": d[k]} for k, label in SUMMARY_LABELS.items()]
    not_read = skipped_files(sources or [])
    if not_read:
        kinds = ", ".join(f"{n} {ext}" for ext, n in not_read.items())
        rows.append({"what": "files not read (not images)", "value": kinds})
    rows += [{"what": f"{k} (s)", "value": v} for k, v in d["seconds"].items()]
    rows += [{"what": f"failed at {k}", "value": v} for k, v in d["failures_by_stage"].items()]
    print_table(rows, title=f"ingest {'(dry run) ' if dry_run else ''}{s.run_id}")


def ingest_cmd(
    ctx: typer.Context,
    sources: Annotated[
        list[Path],
        typer.Argument(help="Folders, .csv/.jsonl list files, COCO captions .json, or images."),
    ],
    *,
    vlm_base_url: VlmBaseUrlOpt = None,
    vlm_api_key: VlmApiKeyOpt = None,
    llm_base_url: LlmBaseUrlOpt = None,
    llm_api_key: LlmApiKeyOpt = None,
    option: BackendOptionOpt = [],  # noqa: B006 - typer reads the default
    preset: PresetOpt = "project",
    trust_remote_code: TrustRemoteCodeOpt = False,
    dtype: DtypeOpt = None,
    max_model_len: MaxModelLenOpt = None,
    **flags: Any,  # IngestFlags' and RayOptions' fields (the signature below)
) -> None:
    """Ingest images: elements, associations by distance, into the graph."""
    from evokegraph.models.presets import ModelSpec
    from evokegraph.options import parse_options

    own = build(IngestFlags, {f.name: flags.pop(f.name) for f in option_fields(IngestFlags)})
    loader = ModelSpec("", None, None, dtype, max_model_len, trust_remote_code)
    config = own.config(
        parse_options(option),
        vlm=replace(loader, base_url=vlm_base_url, api_key=vlm_api_key),
        llm=replace(loader, base_url=llm_base_url, api_key=llm_api_key),
    )
    _check_sources([*sources, *([config.captions] if config.captions else [])])
    if own.engine not in ("local", "ray"):
        raise UserInputError(f"unknown --engine {own.engine!r}; use local or ray")
    if own.engine == "ray":
        summary = _ingest_on_ray(
            ctx, sources, config, preset, build(RayOptions, flags), own.progress
        )
        _print_summary(summary, config.dry_run, sources)
        return
    summary, uncaptioned = _ingest_locally(ctx, sources, config, preset, own.progress)
    _print_summary(summary, config.dry_run, sources)
    if summary.failed:
        err_console.print(
            f"{summary.failed} failure(s) recorded; list them with `evokegraph failures --run {summary.run_id}`",
            soft_wrap=True,
            highlight=False,
        )
        if uncaptioned:
            err_console.print(
                NO_CAPTION_HINT.format(n=uncaptioned), soft_wrap=True, highlight=False
            )
        raise typer.Exit(EXIT_FAILURES)


# its flags: IngestFlags' and RayOptions' (the one source of each, as the API's)
_own = [
    p
    for p in inspect.signature(ingest_cmd, eval_str=True).parameters.values()
    if p.kind != p.VAR_KEYWORD
]
ingest_cmd.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [
        *_own[:2],
        *typer_parameters(option_fields(IngestFlags)),
        *_own[2:],
        *typer_parameters(option_fields(RayOptions)),
    ]
)


def _ingest_locally(
    ctx: typer.Context, sources: list[Path], config: IngestConfig, preset: str, progress: bool
) -> tuple[Summary, int]:
    """The run in this process, with progress bars; its summary and how many of its
    failures are images with no caption."""
    from evokegraph import api

    with open_kb(ctx, read_only=config.dry_run) as kb:
        with progress_bar(enabled=progress) as bar:
            stages = RichStages(bar if progress else None)
            summary = api.ingest(kb, sources, config, preset=preset, progress=stages)
        if config.dry_run or not summary.failed:
            return summary, 0
        return summary, sum(f.reason.startswith(NO_CAPTION) for f in kb.failures(summary.run_id))


def _ingest_on_ray(
    ctx: typer.Context,
    sources: list[Path],
    config: IngestConfig,
    preset: str,
    ray: RayOptions,
    progress: bool,
) -> Summary:
    """The run on Ray Data (shards beside the store unless --shards), then its load."""
    from evokegraph import api

    default = Path(f"{state(ctx).store.path}.shards")
    options = ray.model_copy(update={"shards": ray.shards or default, "progress": progress})
    with open_kb(ctx, create=True) as kb:
        summary = api.ingest(kb, sources, config, preset=preset, engine="ray", ray=options)
    _print_shards(summary)
    return summary


def _print_shards(summary: Summary) -> None:
    run = summary.shards
    assert run is not None and run.load is not None
    console.print(
        f"shards: {run.run} of {run.total} computed in this run "
        f"({run.total - run.run} already done) in {run.root}",
        highlight=False,
    )
    console.print(
        f"loaded ({run.load.mode}) in {run.load.seconds['total']:.1f} s: {run.load.rows}",
        highlight=False,
        soft_wrap=True,
    )


NO_CAPTION_HINT = (
    "{n} image(s) had no caption, so nothing was stored for them. Either give captions "
    "(a photo.txt beside each photo.jpg, a .csv/.jsonl list, or --captions FILE), or let a "
    "vision model describe them: --extractor vlm --vlm openai:MODEL --vlm-base-url "
    "http://localhost:8000/v1 (docs/ingest-and-models.md, 'A local OpenAI-compatible server')."
)


def _check_sources(paths: list[Path]) -> None:
    """A missing or unreadable source fails before anything is drawn or opened."""
    from evokegraph.ingest.sources import check_source

    for path in paths:
        check_source(path)


def failures_cmd(
    ctx: typer.Context,
    run: Annotated[str | None, typer.Option("--run", help="Only failures of this run id.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List recorded failures (bad images, malformed model answers)."""
    with open_kb(ctx, read_only=True) as kb:
        rows = [f.model_dump(exclude={"raw"}) for f in kb.failures(run)]
    if as_json:
        print_json(rows)
    else:
        print_table(rows, title="failures", columns=("at", "stage", "uri", "reason", "run"))


def sample_cmd(
    directory: Annotated[
        Path, typer.Argument(help="Where to write the sample images and captions.")
    ],
) -> None:
    """Write the bundled sample (package photos + literal captions) to DIR."""
    from evokegraph.ingest.sample import write_sample

    paths = write_sample(directory)
    console.print(
        f"wrote {len(paths)} images with captions to {directory} (and {directory / 'sample.jsonl'})"
    )


def eval_associations_cmd(
    ctx: typer.Context,
    gold: Annotated[
        Path, typer.Argument(help="Reference associations, JSONL: caption/image, word, d{1..5}.")
    ],
    encoder: Annotated[
        str, typer.Option("--encoder", help="sentence-transformers model (name or local dir).")
    ] = "all-MiniLM-L6-v2",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Score the KB's associations against reference associations (per distance, ladder)."""
    from evokegraph.ingest.association_eval import evaluate_associations

    with open_kb(ctx, read_only=True) as kb:
        report = evaluate_associations(kb, gold, encoder)
    if as_json:
        print_json(report)
        return
    print_table(report["distances"], title=f"associations vs {gold.name} ({encoder})")
    console.print(
        f"ladder (Spearman, intended vs closest reference distance): {report['ladder']}; "
        f"items {report['items']}, matched {report['matched']}, "
        f"scored {report['covered']} (coverage {report['coverage']})",
        highlight=False,
    )
    if report["unmatched"]:
        console.print(f"no image for: {'; '.join(report['unmatched'][:5])}", highlight=False)
    if report["not_elements"]:
        console.print(
            f"not an element of its image: {', '.join(report['not_elements'][:10])}",
            highlight=False,
        )


def backends_cmd(
    kind: Annotated[
        str | None,
        typer.Option("--kind", help="Only this kind: extractor, miner, realizer or store."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List every backend (extractors, miners, caption realizers, graph stores) with
    its declared options: type, default, description. Give a stage backend's options
    as ``ingest -o KEY=VALUE`` / ``caption -o KEY=VALUE`` (a model backend's model
    comes with --vlm/--llm); a store's are the global options named."""
    from evokegraph import api

    rows = api.backends(kind)
    if as_json:
        print_json(rows)
        return
    shown: list[dict[str, str]] = []
    last = ("", "")
    for row in rows:  # a backend's name and help once, then one line per option
        if (row["kind"], row["name"]) != last:
            last = (row["kind"], row["name"])
            shown.append({"kind": row["kind"], "name": row["name"], "description": row["help"]})
        if row["option"]:
            shown.append({**row, "kind": "", "name": ""})
    columns = ("kind", "name", "option", "type", "default", "description")
    print_table(shown, title="backends and their options", columns=columns)


def register(app: typer.Typer) -> None:
    app.command("backends")(backends_cmd)
    eval_app.command("associations")(eval_associations_cmd)
    app.command("ingest")(ingest_cmd)
    app.command("failures")(failures_cmd)
    app.command("sample")(sample_cmd)
