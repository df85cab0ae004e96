"""CLI: ``caption``, ``explain``, ``report abstraction``; the blind human rating of
the KB's associations: ``eval sheet``, ``eval ratings``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from evokegraph.cli_common import (
    BackendOptionOpt,
    DtypeOpt,
    MaxModelLenOpt,
    PresetOpt,
    TrustRemoteCodeOpt,
    VlmApiKeyOpt,
    VlmBaseUrlOpt,
    console,
    eval_app,
    open_kb,
    print_json,
    print_table,
    progress_bar,
)
from evokegraph.errors import UserInputError
from evokegraph.levels import DEFAULT_DEPTHS, check_depths


class _Bar:
    """Progress events from the captioner -> one rich bar with rate."""

    def __init__(self, bar: Any, total: int) -> None:
        self.bar = bar
        self.task = bar.add_task("caption", total=total)

    def advance(self, stage: str, n: int) -> None:
        self.bar.advance(self.task, n)


report_app = typer.Typer(help="Reports over the knowledge base.", no_args_is_help=True)


def caption_cmd(
    ctx: typer.Context,
    image: Annotated[
        list[str] | None,
        typer.Option("--image", help="Image id, id prefix or file (repeatable; default: all)."),
    ] = None,
    depth: Annotated[
        list[int] | None,
        typer.Option(
            "--depth",
            help="Depth of abstraction (repeatable; default 1..5; > 5 uses the shared network).",
        ),
    ] = None,
    realizer: Annotated[
        str, typer.Option("--realizer", help="template (offline) or vlm.")
    ] = "template",
    vlm: Annotated[
        str, typer.Option("--vlm", help="Model spec for the vlm realizer, ENGINE:MODEL.")
    ] = "",
    vlm_base_url: VlmBaseUrlOpt = None,
    vlm_api_key: VlmApiKeyOpt = None,
    per_element: Annotated[
        int, typer.Option("--per-element", min=1, help="Captions per element and depth.")
    ] = 1,
    seed: Annotated[int, typer.Option("--seed", help="Seed for --sample and template choice.")] = 0,
    sample: Annotated[
        bool, typer.Option("--sample", help="Draw paths by weight instead of taking the top.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Redo images already captioned with these settings.")
    ] = False,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Progress bar on stderr.")
    ] = True,
    preset: PresetOpt = "project",
    trust_remote_code: TrustRemoteCodeOpt = False,
    dtype: DtypeOpt = None,
    max_model_len: MaxModelLenOpt = None,
    option: BackendOptionOpt = [],  # noqa: B006 - typer reads the default
) -> None:
    """Write captions at depths of abstraction, each with its graph path."""
    from evokegraph import api
    from evokegraph.models.presets import ModelSpec, check_loader_options
    from evokegraph.options import parse_options
    from evokegraph.views import resolve_image

    depths = check_depths(depth or DEFAULT_DEPTHS)
    model = ModelSpec(vlm, vlm_base_url, vlm_api_key, dtype, max_model_len, trust_remote_code)
    check_loader_options(model)
    with open_kb(ctx) as kb:
        ids = [resolve_image(kb, i) for i in image] if image else None
        total = len(ids) if ids else kb.stats().images
        with progress_bar(enabled=progress) as bar:
            s = api.caption(
                kb,
                depths=depths,
                realizer=realizer,
                images=ids,
                per_element=per_element,
                seed=seed,
                sample=sample,
                force=force,
                preset=preset,
                vlm=model,
                options=parse_options(option),
                progress=_Bar(bar, total),
            )
    rows = [
        {"what": "images", "value": s.images},
        {"what": "skipped", "value": s.skipped},
        {"what": "captions", "value": s.captions},
        {"what": "failed", "value": s.failed},
    ]
    rows += [{"what": f"depth {d}", "value": n} for d, n in sorted(s.by_depth.items())]
    print_table(rows, title=f"caption {s.run_id}")
    if s.failed:
        raise typer.Exit(3)


def explain_cmd(
    ctx: typer.Context,
    caption_id: Annotated[
        str, typer.Argument(help="A caption id or a unique prefix of it (see `evokegraph show`).")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The graph path a caption came from."""
    from evokegraph.views import caption_explanation, resolve_caption

    with open_kb(ctx, read_only=True) as kb:
        r = caption_explanation(kb, resolve_caption(kb, caption_id))
    steps = r["path"]
    if as_json:
        print_json(r)
        return
    console.print(
        f"[bold]{r['text']}[/bold]  (depth {r['depth']}, {r['realizer']}{' ' + r['model'] if r['model'] else ''}, path weight {r['weight']:.3f})"
    )
    console.print(f"image {r['image']}  {', '.join(r['uris'] or [])}")
    print_table(
        [
            {
                "hop": n + 1,
                "edge": s["kind"],
                "from": s["source"],
                "to": s["target"],
                "distance": s["distance"],
                "weight": s["weight"],
            }
            for n, s in enumerate(steps)
        ],
        title="path",
    )


def report_abstraction_cmd(
    ctx: typer.Context,
    realizer: Annotated[
        str | None, typer.Option("--realizer", help="Only captions of this realizer.")
    ] = None,
    clip_model: Annotated[
        str | None,
        typer.Option("--clip-model", help="open_clip model name for CLIP cosines, e.g. ViT-B-32."),
    ] = None,
    clip_pretrained: Annotated[
        str | None,
        typer.Option("--clip-pretrained", help="open_clip pretrained tag or checkpoint path."),
    ] = None,
    protocol: Annotated[
        str,
        typer.Option(
            "--protocol",
            help="project (per depth) or reference (the paper notebook's CLIP-cosine analysis).",
        ),
    ] = "project",
    originals: Annotated[
        str | None,
        typer.Option(
            "--originals", help="reference: COCO captions JSON (default: stored captions)."
        ),
    ] = None,
    foils: Annotated[
        str | None, typer.Option("--foils", help="reference: FOIL annotations JSON.")
    ] = None,
    seed: Annotated[
        int, typer.Option("--seed", help="reference: seed of the caption choices.")
    ] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Per depth: captions, mean concreteness of association words, CLIP cosine."""
    from dataclasses import asdict

    from evokegraph.captioning.report import abstraction_report, clip_scorer

    if protocol not in ("project", "reference"):
        raise UserInputError(f"unknown --protocol {protocol!r}; use project or reference")
    if protocol == "reference":
        clip_model = clip_model or "ViT-B-32"
    scorer = clip_scorer(clip_model, clip_pretrained) if clip_model else None
    if protocol == "reference":
        _reference_protocol(ctx, scorer, realizer, originals, foils, seed, as_json)
        return
    with open_kb(ctx, read_only=True) as kb:
        rows = [asdict(r) for r in abstraction_report(kb, realizer, scorer)]
    if as_json:
        print_json(rows)
    else:
        print_table(rows, title=_weights_title("abstraction by depth", scorer))


def _weights_title(title: str, scorer: Any) -> str:
    from evokegraph.models.clip import label_header

    return label_header(title, scorer.weights) if scorer is not None else title


def _reference_protocol(
    ctx: typer.Context,
    scorer: Any,
    realizer: str | None,
    originals: str | None,
    foils: str | None,
    seed: int,
    as_json: bool,
) -> None:
    from dataclasses import asdict

    from evokegraph.captioning.reference_protocol import load_coco_captions, reference_report

    orig = load_coco_captions(originals) if originals else None
    foil = load_coco_captions(foils, foil_only=True) if foils else None
    with open_kb(ctx, read_only=True) as kb:
        rep = reference_report(kb, scorer, originals=orig, foils=foil, realizer=realizer, seed=seed)
    if as_json:
        print_json({"weights": scorer.weights, **asdict(rep)})
        return
    title = _weights_title(f"reference protocol: {rep.images} image(s)", scorer)
    print_table(rep.rows, title=title)
    print_table(rep.pairwise, title="share of images where one caption scores higher")
    for note in rep.notes:
        console.print(note)


def eval_sheet_cmd(
    ctx: typer.Context,
    reference: Annotated[
        Path, typer.Argument(help="Reference associations, JSONL: caption/image, word, d{1..5}.")
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Folder for sheet.csv and sheet.jsonl (for the raters).")
    ] = Path("rating"),
    key: Annotated[
        Path | None,
        typer.Option(
            "--key", help="Where the key goes (default OUT/key.json); keep it from raters."
        ),
    ] = None,
    distance: Annotated[
        list[int] | None,
        typer.Option("--distance", help="Distance to rate (repeatable; default 1..5)."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Rate this many items (chosen by --seed).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for items, other scenes, order.")] = 0,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite existing sheet/key files.")
    ] = False,
) -> None:
    """Write a blind rating sheet: the KB's words mixed with reference and other-scene words."""
    from evokegraph.ingest.rating import make_sheet
    from evokegraph.levels import DISTANCES

    with open_kb(ctx, read_only=True) as kb:
        sheet, paths = make_sheet(
            kb, reference, out, key, distance or list(DISTANCES), seed, limit, force
        )
    console.print(
        f"{len(sheet.rows)} rows for {len(sheet.key.items)} elements: {paths[0]}, {paths[1]} "
        f"(for the raters, with {paths[0].parent / 'INSTRUCTIONS.txt'}); "
        f"key (keep it from the raters): {paths[2]}",
        highlight=False,
    )
    if sheet.unmatched:
        console.print(
            f"no image in the KB for {len(sheet.unmatched)} item(s), left off: "
            f"{'; '.join(sheet.unmatched[:5])}",
            highlight=False,
        )


def eval_ratings_cmd(
    key: Annotated[Path, typer.Argument(help="The key.json written by eval sheet.")],
    sheets: Annotated[
        list[Path], typer.Argument(help="Filled sheets (.csv or .jsonl), one per rater.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    as_markdown: Annotated[
        bool, typer.Option("--markdown", help="Print a markdown table.")
    ] = False,
) -> None:
    """Score filled rating sheets: share accepted per source and distance, kappa, coverage."""
    from evokegraph.ingest.rating import markdown, rate

    report = rate(key, sheets)
    if as_json:
        print_json(report)
        return
    if as_markdown:
        console.print(markdown(report), highlight=False, markup=False, soft_wrap=True)
        return
    print_table(
        report["acceptance"],
        title=f"share accepted ({report['raters']} rater(s), {report['rows']} rows)",
        columns=("distance", "name", "kb", "reference", "other", "gap", "kb_words"),
    )
    ag, cov = report["agreement"], report["coverage"]
    console.print(
        f"agreement: {ag['kind']} kappa {ag['kappa']}, raw {ag['observed']}; coverage "
        f"(>=2 KB words at d1-3, >=1 at d4-5): {cov['share']} ({cov['covered']}/{cov['elements']})",
        highlight=False,
    )
    print_table(report["targets"], title="issue 20 targets")
    cal = report["calibration"]
    if cal:  # keys with the KB words' weights: do the weights say how often raters accept?
        print_table(
            cal["bands"],
            title="calibration: share accepted by weight band (error per distance: "
            + ", ".join(f"{d} {e}" for d, e in cal["error"].items())
            + "; log loss: "
            + ", ".join(f"{d} {e}" for d, e in cal["log_loss"].items())
            + ")",
            columns=("distance", "band", "words", "mean_weight", "accepted"),
        )
        print_table(
            cal["floors"],
            title="what a weight floor keeps: share accepted, and coverage left",
            columns=("distance", "floor", "words", "accepted", "coverage"),
        )


def register(app: typer.Typer) -> None:
    eval_app.command("sheet")(eval_sheet_cmd)
    eval_app.command("ratings")(eval_ratings_cmd)
    app.command("caption")(caption_cmd)
    app.command("explain")(explain_cmd)
    report_app.command("abstraction")(report_abstraction_cmd)
    app.add_typer(report_app, name="report")
