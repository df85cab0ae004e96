"""Where images come from: folders, list files (CSV/JSONL), COCO captions JSON.

Every source yields :class:`SourceItem` (a path plus optional captions and
split), in a stable order. A malformed source file raises
:class:`~evokegraph.errors.SourceError` naming the file and line; a missing
image named by a list file is *not* an error here: the runner records it as a
failed image and goes on.
"""

from __future__ import annotations

import csv
import functools
import json
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from evokegraph.errors import SourceError, UserInputError
from evokegraph.records import unite

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"})
PATH_KEYS = ("path", "filepath", "file", "image", "file_name", "filename")
CAPTION_KEYS = ("captions", "caption", "title", "text")
DESCRIPTION_KEYS = ("description", "dense_caption", "dense_description")
CAPTION_SEPARATOR = "|"


@dataclass
class SourceItem:
    path: Path
    captions: list[str] = field(default_factory=list)
    split: str = ""
    origin: str = ""  # "list.csv:12", for messages
    description: str = ""  # a dense description, the miner's context (the reference's)

    @property
    def uri(self) -> str:
        """Absolute and normalised (no ``..``, no ``.``), so that exports and
        views find the file from any folder and one file is one uri."""
        return os.path.abspath(self.path)


def _clean(captions: Sequence[str]) -> list[str]:
    return unite(" ".join(c.split()) for c in captions if c and c.strip())


def sidecar_captions(image: Path) -> list[str]:
    """``photo.jpg`` + ``photo.txt``: one caption per non-empty line."""
    txt = image.with_suffix(".txt")
    if not txt.is_file():
        return []
    try:
        return _clean(txt.read_text(encoding="utf-8", errors="replace").splitlines())
    except OSError:
        return []


def iter_folder(root: Path) -> Iterator[SourceItem]:
    paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    for p in paths:
        if p.is_file() or p.is_symlink():
            yield SourceItem(path=p, captions=sidecar_captions(p), origin=str(p))


def _first(row: dict[str, object], keys: Sequence[str]) -> object:
    for k in keys:
        if k in row and row[k] not in (None, ""):
            return row[k]
    return None


def _item_from_row(row: dict[str, object], base: Path, origin: str) -> SourceItem:
    raw_path = _first(row, PATH_KEYS)
    if not isinstance(raw_path, str) or not raw_path.strip():
        raise SourceError(
            f"{origin}: no image path; give a column/key named one of {', '.join(PATH_KEYS)}"
        )
    caps = _first(row, CAPTION_KEYS)
    if isinstance(caps, str):
        captions = caps.split(CAPTION_SEPARATOR)
    elif isinstance(caps, list) and all(isinstance(c, str) for c in caps):
        captions = caps
    elif caps is None:
        captions = []
    else:
        raise SourceError(f"{origin}: captions must be a string or a list of strings")
    p = Path(raw_path.strip())
    path = p if p.is_absolute() else base / p
    split = row.get("split")
    description = _first(row, DESCRIPTION_KEYS)
    if description is not None and not isinstance(description, str):
        raise SourceError(f"{origin}: description must be a string")
    return SourceItem(
        path=path,
        captions=_clean(captions),
        split=str(split or ""),
        origin=origin,
        description=" ".join((description or "").split()),
    )


def _not_utf8(path: Path, exc: UnicodeDecodeError) -> SourceError:
    return SourceError(
        f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}); save the file as UTF-8"
    )


def _utf8(read: Callable[[Path], Iterator[SourceItem]]) -> Callable[[Path], Iterator[SourceItem]]:
    """``read`` with a file that is not UTF-8 as one :class:`SourceError` line."""

    @functools.wraps(read)
    def reading(path: Path) -> Iterator[SourceItem]:
        try:
            yield from read(path)
        except UnicodeDecodeError as exc:
            raise _not_utf8(path, exc) from None

    return reading


@_utf8
def iter_csv(path: Path) -> Iterator[SourceItem]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not set(reader.fieldnames) & set(PATH_KEYS):
            raise SourceError(
                f"{path}:1: no path column; the header must name one of {', '.join(PATH_KEYS)}"
            )
        for row in reader:
            origin = f"{path}:{reader.line_num}"
            if None in row:  # more fields than the header
                raise SourceError(
                    f"{origin}: {len(row) - 1 + len(row[None])} fields, header has {len(reader.fieldnames)}; quote fields that contain commas"
                )
            yield _item_from_row(row, path.parent, origin)


def jsonl_objects(
    lines: Iterable[str], source: str, error: type[UserInputError] = SourceError
) -> Iterator[tuple[str, dict]]:
    """(``source:line``, object) for each non-blank line; a line that is not a JSON
    object is one ``error`` naming it."""
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        origin = f"{source}:{n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(f"{origin}: malformed JSON ({exc.msg}); one JSON object per line") from None
        if not isinstance(row, dict):
            raise error(f"{origin}: expected a JSON object, got {type(row).__name__}")
        yield origin, row


@_utf8
def iter_jsonl(path: Path) -> Iterator[SourceItem]:
    with path.open(encoding="utf-8") as f:
        for origin, row in jsonl_objects(f, str(path)):
            yield _item_from_row(row, path.parent, origin)


def load_coco(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SourceError(f"{path}:{exc.lineno}: malformed COCO JSON ({exc.msg})") from None
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, exc) from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise SourceError(f"{path}:1: not a COCO captions file; it needs an 'images' list")
    if not isinstance(data.get("annotations", []), list):
        raise SourceError(f"{path}:1: 'annotations' must be a list")
    return data


def iter_coco(path: Path, image_root: Path | None = None) -> Iterator[SourceItem]:
    """COCO ``captions_*.json``: images + annotations; files under ``image_root``
    (default: the JSON's folder, or its sibling folder named after the split,
    e.g. ``annotations/captions_val2017.json`` -> ``val2017/``)."""
    data = load_coco(path)
    caps: dict[object, list[str]] = defaultdict(list)
    for i, a in enumerate(data.get("annotations", [])):
        if (
            not isinstance(a, dict)
            or not _coco_id(a.get("image_id"))
            or not isinstance(a.get("caption"), str)
        ):
            raise SourceError(
                f"{path}: annotation #{i} needs 'image_id' and a string 'caption' "
                "(image_id: a number or a string)"
            )
        caps[a["image_id"]].append(a["caption"])
    root = image_root or _coco_root(path)
    split = path.stem.removeprefix("captions_")
    for i, im in enumerate(data["images"]):
        if not isinstance(im, dict) or not isinstance(im.get("file_name"), str):
            raise SourceError(f"{path}: image #{i} needs a string 'file_name'")
        yield SourceItem(
            path=root / im["file_name"],
            captions=_clean(caps.get(im.get("id"), []) if _coco_id(im.get("id")) else []),
            split=split,
            origin=f"{path}#images[{i}]",
        )


def _coco_id(value: object) -> bool:
    """COCO ids are numbers; strings are accepted too (both hashable)."""
    return isinstance(value, int | str) and not isinstance(value, bool)


def _coco_root(path: Path) -> Path:
    split = path.stem.removeprefix("captions_")
    for cand in (path.parent.parent / split, path.parent / split):
        if cand.is_dir():
            return cand
    return path.parent


def caption_map(path: Path) -> dict[str, list[str]]:
    """An extra captions file (CSV, JSONL or COCO JSON): file name -> captions."""
    items = iter_source(path)
    out: dict[str, list[str]] = defaultdict(list)
    for it in items:
        out[it.path.name] += it.captions
    return dict(out)


LIST_SUFFIXES = frozenset({".csv", ".jsonl", ".ndjson", ".json"})
WHAT_SOURCES_ARE = "give a folder, a .csv/.jsonl list, a COCO .json or an image"


def check_source(source: Path) -> None:
    """A source that cannot be read fails with one line before anything is
    drawn, opened or written (a folder's own files are checked one by one later)."""
    if source.is_dir():
        return
    if not source.exists():
        raise UserInputError(f"source {source} does not exist; {WHAT_SOURCES_ARE}")
    suffix = source.suffix.lower()
    if suffix in LIST_SUFFIXES or suffix in IMAGE_SUFFIXES:
        return
    kind = f"a {suffix} file" if suffix else "a file without an extension"
    beside = sorted(source.parent.glob(f"{source.stem}.*"))
    images = [p for p in beside if p.suffix.lower() in IMAGE_SUFFIXES]
    if suffix == ".txt" and images:
        raise UserInputError(
            f"cannot read source {source}: it holds the captions of {images[0]}, which "
            f"are read with it; ingest {images[0]} or its folder {source.parent}"
        )
    raise UserInputError(f"cannot read source {source}: {kind} is not a source; {WHAT_SOURCES_ARE}")


def skipped_files(sources: Sequence[Path | str]) -> dict[str, int]:
    """Files in the source folders that are not read: neither an image nor the
    caption sidecar of one (hidden files aside), counted by extension."""
    counts: Counter[str] = Counter()
    for src in map(Path, sources):
        if not src.is_dir():
            continue
        for p in src.rglob("*"):
            if p.name.startswith(".") or not p.is_file():
                continue
            suffix = p.suffix.lower()
            if suffix in IMAGE_SUFFIXES:
                continue
            if suffix == ".txt" and any(
                p.with_suffix(s).is_file() or p.with_suffix(s.upper()).is_file()
                for s in IMAGE_SUFFIXES
            ):
                continue  # a sidecar: its image's captions
            counts[suffix or "(no extension)"] += 1
    return dict(sorted(counts.items()))


def iter_source(source: Path, *, image_root: Path | None = None) -> Iterator[SourceItem]:
    """Dispatch on what ``source`` is."""
    check_source(source)
    if source.is_dir():
        return iter_folder(source)
    suffix = source.suffix.lower()
    if suffix == ".csv":
        return iter_csv(source)
    if suffix in (".jsonl", ".ndjson"):
        return iter_jsonl(source)
    if suffix == ".json":
        return iter_coco(source, image_root)
    return iter([SourceItem(path=source, captions=sidecar_captions(source), origin=str(source))])


def iter_sources(
    sources: Sequence[Path | str],
    *,
    captions: Path | None = None,
    image_root: Path | None = None,
) -> Iterator[SourceItem]:
    for src in sources:  # every source checked before the first image is read
        check_source(Path(src))
    return _iter_sources(sources, captions=captions, image_root=image_root)


def _iter_sources(
    sources: Sequence[Path | str], *, captions: Path | None, image_root: Path | None
) -> Iterator[SourceItem]:
    extra = caption_map(Path(captions)) if captions else {}
    for src in sources:
        for item in iter_source(Path(src), image_root=image_root):
            if extra:
                item.captions = _clean([*item.captions, *extra.get(item.path.name, [])])
            yield item
