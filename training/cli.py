"""CLI: ``export``, ``train``, ``eval retrieval``."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated, Any

import typer

from evokegraph.cli_common import (
    console,
    err_console,
    eval_app,
    open_kb,
    print_json,
    print_table,
    typer_parameters,
)
from evokegraph.options import build, option_fields
from evokegraph.training.config import MODEL_HELP, PRETRAINED_HELP, TrainConfig

ModelOpt = Annotated[str, typer.Option("--model", help=MODEL_HELP)]
PretrainedOpt = Annotated[str | None, typer.Option("--pretrained", help=PRETRAINED_HELP)]
DeviceOpt = Annotated[
    str | None, typer.Option("--device", help="cpu, cuda, cuda:N (default: cuda if available).")
]


def export_cmd(
    ctx: typer.Context,
    out: Annotated[Path, typer.Argument(help="Output folder.")],
    fmt: Annotated[str, typer.Option("--format", help="csv, webdataset or parquet.")] = "csv",
    depth: Annotated[
        list[int] | None,
        typer.Option("--depth", help="Only these depths (repeatable; 0 = literal)."),
    ] = None,
    min_weight: Annotated[
        float, typer.Option("--min-weight", help="Only pairs whose path weight is at least this.")
    ] = 0.0,
    realizer: Annotated[
        str | None,
        typer.Option(
            "--realizer", help="Only captions of this realizer ('literal': the image's own)."
        ),
    ] = None,
    split_ratio: Annotated[
        str,
        typer.Option(
            "--split-ratio",
            help="Splits by image, e.g. train=0.9,val=0.05,test=0.05, for images without "
            "a split of their own (a COCO val image stays in val).",
        ),
    ] = "train=0.9,val=0.05,test=0.05",
    shard_size: Annotated[
        int, typer.Option("--shard-size", min=1, help="Samples per WebDataset shard.")
    ] = 1000,
) -> None:
    """Export image-caption pairs (open_clip csv, WebDataset shards, parquet)."""
    from evokegraph import api

    with open_kb(ctx, read_only=True) as kb:
        s = api.export(
            kb,
            out,
            format=fmt,
            depths=depth,
            min_weight=min_weight,
            realizer=realizer,
            split_ratio=split_ratio,
            shard_size=shard_size,
        )
    print_table(s.rows(), title="pairs per split and depth")
    console.print(f"images per split: {dict(s.images)}; wrote {len(s.files)} file(s) to {out}")
    warning = s.empty_warning()
    if warning:
        err_console.print(warning, highlight=False, soft_wrap=True)
    if s.missing:
        console.print(f"{len(s.missing)} image file(s) not found and left out, e.g. {s.missing[0]}")


def train_cmd(**options: Any) -> None:
    """Fine-tune CLIP on exported pairs (distance tokens or plain)."""
    from evokegraph.training.train import train

    print_json(train(build(TrainConfig, options)))


# The options are TrainConfig's fields (the one source, shared with train.main).
train_cmd.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    typer_parameters(option_fields(TrainConfig))
)


def eval_cmd(
    data: Annotated[
        Path,
        typer.Option(
            "--data", help="Pairs: an export csv/parquet, or any csv/jsonl of image path + text."
        ),
    ],
    model: ModelOpt = "ViT-B-32",
    pretrained: PretrainedOpt = None,
    checkpoint: Annotated[
        str | None,
        typer.Option("--checkpoint", help="A fine-tuned checkpoint to compare with the baseline."),
    ] = None,
    depth: Annotated[
        list[int] | None, typer.Option("--depth", help="Only these depths (repeatable).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    device: DeviceOpt = None,
) -> None:
    """Retrieval over the full similarity matrix: baseline and fine-tuned side by side."""
    from evokegraph.training.evaluate import evaluate_model

    rows = [
        {"model": "baseline", **r}
        for r in evaluate_model(
            model, str(data), pretrained=pretrained, depths=depth, device=device
        )
    ]
    if checkpoint:
        rows += [
            {"model": "fine-tuned", **r}
            for r in evaluate_model(
                model,
                str(data),
                pretrained=pretrained,
                checkpoint=checkpoint,
                depths=depth,
                device=device,
            )
        ]
        rows.sort(key=lambda r: (r["depth"], r["direction"], r["model"]))
    if as_json:
        print_json(rows)
    else:
        from evokegraph.models.clip import title_for

        print_table(rows, title=title_for("retrieval", model, pretrained))


CheckpointOpt = Annotated[
    str | None,
    typer.Option("--checkpoint", help="A fine-tuned checkpoint (distance tokens: swept by depth)."),
]
AsDepthOpt = Annotated[
    list[int] | None,
    typer.Option("--as-depth", help="Depths to condition images on (repeatable; default 0..5)."),
]


def _print_protocol(rows: list[dict], title: str, weights: str, as_json: bool) -> None:
    from evokegraph.models.clip import label_header

    if as_json:
        print_json({"weights": weights, "rows": rows})
    else:
        print_table(rows, title=label_header(title, weights))


def poem_cmd(
    poems: Annotated[Path, typer.Option("--poems", help="MultiM-Poem JSON (list of id, poem).")],
    images: Annotated[Path, typer.Option("--images", help="Folder of MultiM-Poem ID.jpg images.")],
    model: ModelOpt = "ViT-B-32",
    pretrained: PretrainedOpt = None,
    checkpoint: CheckpointOpt = None,
    as_depth: AsDepthOpt = None,
    block: Annotated[
        int | None,
        typer.Option(
            "--block",
            min=1,
            help="Also score the reference's block-diagonal matrix (512 reproduces its bug).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    device: DeviceOpt = None,
) -> None:
    """MultiM-Poem: poem -> image R@1/5/10/20 and average rank over the full matrix."""
    from evokegraph.training import protocols as P

    enc = P.load_encoder(model, pretrained, checkpoint, device)
    rows = P.run_poem(enc, P.load_multim_poem(poems, images), P.depth_sweep(enc, as_depth), block)
    _print_protocol(rows, "MultiM-Poem poem->image", enc.weights, as_json)


def haivmet_cmd(
    task2: Annotated[
        list[Path] | None,
        typer.Option("--task2", help="A HAIVMet root of <metaphor>/<image> folders (repeatable)."),
    ] = None,
    task3: Annotated[
        Path | None,
        typer.Option("--task3", help="HAIVMet task-3 pickle/JSON: metaphor -> DALLE, DALLE_CoT."),
    ] = None,
    model: ModelOpt = "ViT-B-32",
    pretrained: PretrainedOpt = None,
    checkpoint: CheckpointOpt = None,
    as_depth: AsDepthOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    device: DeviceOpt = None,
) -> None:
    """HAIVMet: task 2 (image -> metaphor retrieval) and task 3 (DALLE_CoT preference)."""
    from evokegraph.errors import UserInputError
    from evokegraph.training import protocols as P

    if not task2 and task3 is None:
        raise UserInputError("give --task2 ROOT (repeatable) and/or --task3 FILE")
    enc = P.load_encoder(model, pretrained, checkpoint, device)
    depths = P.depth_sweep(enc, as_depth)
    rows = P.run_task2(enc, P.load_haivmet_task2(task2), depths) if task2 else []
    if task3 is not None:
        rows += P.run_task3(enc, P.load_haivmet_task3(task3), depths)
    _print_protocol(rows, "HAIVMet", enc.weights, as_json)


def convert_cmd(
    src: Annotated[
        Path, typer.Argument(help="A reference checkpoint (model_train.py state dict).")
    ],
    dst: Annotated[Path, typer.Argument(help="Where to write the evokegraph checkpoint.")],
) -> None:
    """Import a reference checkpoint: task embeddings -> distance tokens (pre-ln)."""
    from evokegraph.training.convert import convert_reference_checkpoint

    print_json(convert_reference_checkpoint(src, dst))


def register(app: typer.Typer) -> None:
    app.command("export")(export_cmd)
    app.command("train")(train_cmd)
    app.command("convert-checkpoint")(convert_cmd)
    eval_app.command("retrieval")(eval_cmd)
    eval_app.command("poem")(poem_cmd)
    eval_app.command("haivmet")(haivmet_cmd)
