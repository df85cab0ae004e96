"""``evokegraph eval sheet`` / ``eval ratings``: a blind human rating of a KB's associations.

A *sheet* asks raters one question per row: is ``word`` a plausible association
of ``element``, in the scene ``caption``, at about ``distance`` (its name and
definition from :mod:`evokegraph.levels` are on the row)? For each chosen
reference item (the JSONL of ``eval associations``; the image is found the same
way, by :func:`~evokegraph.ingest.association_eval.match_items`) and distance the
rows mix three sources, de-duplicated, shuffled with a seed, unlabelled:

* ``kb``: the words the knowledge base stores for that element at that distance;
* ``reference``: the reference file's words for that item and distance;
* ``other``: the reference words, at the same distance, of another item from a
  different scene (chosen with the seed): the level a word reaches by chance.

The *key* (row -> sources, item, the other item; every item's KB words at every
distance, for coverage) is written to its own file. ``eval ratings`` reads the
key and the filled sheets (``accept`` = 1/0/yes/no/y/n) and reports the share
accepted per source and distance, agreement between raters (Cohen's kappa for
two, Fleiss' kappa for more), and coverage: the share of elements with at least
:data:`MIN_WORDS` KB words at each distance. Where the key holds the KB words'
weights (keys ``eval sheet`` writes since 2026-12-07), it also reports *calibration*:
per distance and weight band the share of the KB's words accepted beside their
mean weight (a weight is the miner's probability that raters accept the word,
so the two should agree), and per weight floor the share accepted and the
coverage left: what a user's ``min_weight`` buys and costs.

Everything here is a pure function of its arguments apart from the ``write_*``
and ``read_*`` functions at the end.
"""

from __future__ import annotations

import csv
import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from evokegraph.errors import UserInputError
from evokegraph.levels import COVERAGE_MIN_WORDS, DISTANCE_NAMES, DISTANCES, LEVEL_DEFINITIONS

from .association_eval import Matched

SOURCES: tuple[str, ...] = ("kb", "reference", "other")
SHEET_COLUMNS: tuple[str, ...] = (
    "row",
    "caption",
    "element",
    "distance",
    "level",
    "definition",
    "word",
    "accept",
)
ACCEPT_VALUES: dict[str, bool] = {
    "1": True,
    "yes": True,
    "y": True,
    "0": False,
    "no": False,
    "n": False,
}
# coverage: an element is covered when the KB holds at least this many words at each distance
MIN_WORDS: dict[int, int] = COVERAGE_MIN_WORDS
# issue 20's targets: share of the KB's words accepted per distance, the least gap
# over the other-scene words, and the share of elements covered
TARGET_ACCEPT: dict[int, float] = {1: 0.70, 2: 0.70, 3: 0.70, 4: 0.50, 5: 0.50}
TARGET_GAP = 0.25
TARGET_COVERAGE = 0.90
# calibration: weight bands (lower bounds) and the floors a user may read at
WEIGHT_BANDS: tuple[float, ...] = (0.0, 0.5, 0.7, 0.85)
WEIGHT_FLOORS: tuple[float, ...] = (0.0, 0.5, 0.6, 0.7, 0.8)
KEY_VERSION = 1
INSTRUCTIONS = """\
Rating sheet (sheet.csv or sheet.jsonl): one row per word.

For each row, read the scene (caption), the element of the scene and the
distance with its definition (1 = near synonym .. 5 = full abstraction). Put
1 (or yes / y) in the accept column when the word is a plausible association
of that element, in that scene, at about that distance; else 0 (or no / n).
Rate every row; change no other column. The words come from several sources,
mixed and unlabelled: judge each word on its own.

Return the filled sheet; it is scored with `evokegraph eval ratings KEY SHEET...`.
"""


# -- the sheet and its key -------------------------------------------------------
@dataclass(frozen=True)
class SheetRow:
    """One question for a rater (no source on it)."""

    row: str
    caption: str
    element: str
    distance: int
    level: str
    definition: str
    word: str
    accept: str = ""


class KeyRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    row: str
    word: str
    distance: int
    item: int  # number of the reference item (1 = the file's first item)
    sources: list[str]  # one or more of SOURCES: a word from two sources is asked once
    other_item: int | None = None  # the item the "other" words came from


class KeyItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item: int
    caption: str
    element: str
    image_id: str
    other_item: int | None
    kb_words: dict[int, list[str]]  # every distance, whether on the sheet or not
    # their EVOKES weights, aligned with kb_words (empty in keys written before)
    kb_weights: dict[int, list[float]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _aligned(self) -> KeyItem:
        for d, ws in self.kb_weights.items():
            if len(ws) != len(self.kb_words.get(d, [])):
                raise ValueError(f"item {self.item}: {len(ws)} weights for distance {d}'s words")
        return self


class Key(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = KEY_VERSION
    reference: str = ""
    seed: int = 0
    distances: list[int]
    items: list[KeyItem]
    rows: list[KeyRow]


@dataclass(frozen=True)
class Sheet:
    rows: list[SheetRow]
    key: Key
    unmatched: list[str]  # reference items with no image in the KB (not on the sheet)


def _norm(word: str) -> str:
    return " ".join(word.split()).casefold()


def _scene(m: Matched) -> str:
    return m.image_id or _norm(m.item.caption) or m.item.image


def check_distances(distances: Sequence[int]) -> list[int]:
    out = sorted(set(distances))
    bad = [d for d in out if d not in DISTANCES]
    if bad or not out:
        raise UserInputError(
            f"distance {bad[0] if bad else '(none)'} is not on the ladder; "
            f"pick distances in {DISTANCES[0]}..{DISTANCES[-1]}"
        )
    return out


def _other_item(n: int, matched: Sequence[Matched], seed: int) -> int | None:
    """The number of another item from a different scene, chosen with the seed."""
    me = matched[n - 1]
    pool = [k for k, m in enumerate(matched, 1) if _scene(m) != _scene(me)]
    return random.Random(f"other:{seed}:{n}").choice(pool) if pool else None


def _group(
    kb: Sequence[str], reference: Sequence[str], other: Sequence[str]
) -> list[tuple[str, list[str]]]:
    """Words with their sources, one entry per word (first spelling kept), in order."""
    seen: dict[str, tuple[str, list[str]]] = {}
    for source, words in zip(SOURCES, (kb, reference, other), strict=True):
        for w in words:
            entry = seen.setdefault(_norm(w), (" ".join(w.split()), []))
            if source not in entry[1]:
                entry[1].append(source)
    return list(seen.values())


def build_sheet(
    matched: Sequence[Matched],
    distances: Sequence[int] = DISTANCES,
    seed: int = 0,
    limit: int | None = None,
    reference: str = "",
) -> Sheet:
    """The blinded sheet and its key for ``matched`` (all reference items, in file
    order; those without an image are left off the sheet). ``limit`` picks that
    many items with the seed."""
    ds = check_distances(distances)
    chosen = [n for n, m in enumerate(matched, 1) if m.image_id is not None]
    if not chosen:
        raise UserInputError(
            "no reference item matches an image in the knowledge base (by caption or image); "
            "ingest the reference file's images first"
        )
    if limit is not None and limit < len(chosen):
        chosen = sorted(random.Random(f"items:{seed}").sample(chosen, limit))
    items, groups = [], []
    for n in chosen:
        m = matched[n - 1]
        other = _other_item(n, matched, seed)
        items.append(
            KeyItem(
                item=n,
                caption=m.item.caption,
                element=m.item.word,
                image_id=m.image_id or "",
                other_item=other,
                kb_words={d: list(m.produced.get(d, [])) for d in DISTANCES},
                kb_weights={
                    d: [round(w, 4) for w in m.weights[d]]
                    for d in DISTANCES
                    if len(m.weights.get(d, [])) == len(m.produced.get(d, [])) > 0
                },
            )
        )
        for d in ds:
            other_words = matched[other - 1].item.d[d] if other is not None else []
            words = _group(m.produced.get(d, []), m.item.d[d], other_words)
            random.Random(f"words:{seed}:{n}:{d}").shuffle(words)
            groups.append((n, d, other, words))
    random.Random(f"groups:{seed}").shuffle(groups)
    rows: list[SheetRow] = []
    key_rows: list[KeyRow] = []
    width = len(str(sum(len(g[3]) for g in groups)))
    for n, d, other, words in groups:
        m = matched[n - 1]
        for word, sources in words:
            rid = f"r{len(rows) + 1:0{width}d}"
            rows.append(
                SheetRow(
                    rid,
                    m.item.caption,
                    m.item.word,
                    d,
                    DISTANCE_NAMES[d],
                    LEVEL_DEFINITIONS[d],
                    word,
                )
            )
            key_rows.append(
                KeyRow(
                    row=rid,
                    word=word,
                    distance=d,
                    item=n,
                    sources=sources,
                    other_item=other if "other" in sources else None,
                )
            )
    key = Key(reference=reference, seed=seed, distances=ds, items=items, rows=key_rows)
    unmatched = [m.item.caption or m.item.image for m in matched if m.image_id is None]
    return Sheet(rows, key, unmatched)


# -- agreement -------------------------------------------------------------------
def cohen_kappa(a: Sequence[Any], b: Sequence[Any]) -> float | None:
    """Cohen's kappa of two raters' labels on the same items; None where it is
    undefined (both raters gave one and the same label to everything)."""
    if len(a) != len(b) or not a:
        raise ValueError("cohen_kappa needs two equally long, non-empty label lists")
    n = len(a)
    labels = sorted(set(a) | set(b), key=str)
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    expected = sum((list(a).count(k) / n) * (list(b).count(k) / n) for k in labels)
    if expected == 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def fleiss_kappa(counts: Sequence[Sequence[int]]) -> float | None:
    """Fleiss' kappa from a subjects x categories table of how many raters put
    each subject in each category (every subject rated by the same number of
    raters, at least 2); None where undefined (one category only)."""
    if not counts:
        raise ValueError("fleiss_kappa needs at least one subject")
    raters = sum(counts[0])
    if raters < 2 or any(sum(row) != raters for row in counts):
        raise ValueError("fleiss_kappa needs the same number (>= 2) of raters per subject")
    subjects = len(counts)
    per_subject = [(sum(c * c for c in row) - raters) / (raters * (raters - 1)) for row in counts]
    p_bar = sum(per_subject) / subjects
    shares = [sum(row[j] for row in counts) / (subjects * raters) for j in range(len(counts[0]))]
    p_e = sum(p * p for p in shares)
    if p_e == 1.0:
        return None
    return (p_bar - p_e) / (1.0 - p_e)


def agreement(judgements: Sequence[Sequence[bool]]) -> dict[str, Any]:
    """Raters' agreement on the same rows (``judgements[r][i]``: rater r, row i)."""
    if len(judgements) < 2:
        return {"kappa": None, "kind": "one rater: no agreement", "observed": None}
    rows = list(zip(*judgements, strict=True))
    observed = sum(len(set(r)) == 1 for r in rows) / len(rows)
    if len(judgements) == 2:
        kappa, kind = cohen_kappa(judgements[0], judgements[1]), "Cohen"
    else:
        counts = [[sum(r), len(r) - sum(r)] for r in rows]
        kappa, kind = fleiss_kappa(counts), "Fleiss"
    return {
        "kappa": None if kappa is None else round(kappa, 3),
        "kind": kind,
        "observed": round(observed, 3),
    }


# -- scoring ---------------------------------------------------------------------
def coverage(key: Key) -> dict[str, Any]:
    """Share of the key's elements with at least MIN_WORDS KB words at every distance."""
    full = [all(len(it.kb_words.get(d, [])) >= k for d, k in MIN_WORDS.items()) for it in key.items]

    def per_distance(items: Sequence[KeyItem]) -> dict[int, float]:
        if not items:
            return {}
        return {
            d: round(sum(len(it.kb_words.get(d, [])) >= k for it in items) / len(items), 3)
            for d, k in MIN_WORDS.items()
        }

    # the elements the KB holds for its image (a reference item may name a word the
    # extractor did not keep among the image's salient elements: no words anywhere)
    held = [it for it in key.items if any(it.kb_words.get(d) for d in MIN_WORDS)]
    return {
        "elements": len(full),
        "covered": sum(full),
        "share": round(sum(full) / len(full), 3) if full else None,
        "per_distance": per_distance(key.items),
        "extracted": len(held),
        "per_distance_extracted": per_distance(held),
    }


def _share(xs: list[bool]) -> float | None:
    return round(sum(xs) / len(xs), 3) if xs else None


def score_ratings(key: Key, sheets: Sequence[Mapping[str, bool]]) -> dict[str, Any]:
    """Acceptance per source and distance (pooled over raters: a word from two
    sources counts for both), agreement, coverage and the issue's targets."""
    if not sheets:
        raise UserInputError("give at least one filled sheet")
    table = []
    for d in [*key.distances, None]:
        row: dict[str, Any] = {
            "distance": "all" if d is None else d,
            "name": "" if d is None else DISTANCE_NAMES[d],
        }
        for s in SOURCES:
            rows = [r for r in key.rows if s in r.sources and d in (None, r.distance)]
            row[s] = _share([sheet[r.row] for sheet in sheets for r in rows])
            row[f"{s}_words"] = len(rows)
        row["gap"] = (
            round(row["kb"] - row["other"], 3)
            if row["kb"] is not None and row["other"] is not None
            else None
        )
        table.append(row)
    ids = [r.row for r in key.rows]
    report = {
        "raters": len(sheets),
        "rows": len(ids),
        "items": len(key.items),
        "acceptance": table,
        "agreement": agreement([[sheet[i] for i in ids] for sheet in sheets]),
        "per_rater": [_share([sheet[i] for i in ids]) for sheet in sheets],  # all rows accepted
        "coverage": coverage(key),
        "calibration": calibration(key, sheets),
    }
    report["targets"] = targets(report)
    return report


def _band(w: float) -> str:
    lo = max(b for b in WEIGHT_BANDS if w >= b)
    i = WEIGHT_BANDS.index(lo)
    return f"{lo:.2f}-{WEIGHT_BANDS[i + 1]:.2f}" if i + 1 < len(WEIGHT_BANDS) else f">= {lo:.2f}"


def _bands(
    mine: Sequence[tuple[KeyRow, float]], sheets: Sequence[Mapping[str, bool]]
) -> list[dict[str, Any]]:
    """Per weight band of ``mine`` (rated KB rows and their weights): words, mean
    weight, share accepted pooled over raters."""
    out = []
    for b in sorted({_band(w) for _, w in mine}):
        inside = [(r, w) for r, w in mine if _band(w) == b]
        marks = [s[r.row] for s in sheets for r, _ in inside]
        out.append(
            {
                "band": b,
                "words": len(inside),
                "mean_weight": round(sum(w for _, w in inside) / len(inside), 3),
                "accepted": round(sum(marks) / len(marks), 3),
            }
        )
    return out


def calibration(key: Key, sheets: Sequence[Mapping[str, bool]]) -> dict[str, Any] | None:
    """Do the KB's weights say how often raters accept its words? Per distance
    (and all): per weight band the KB words rated, their mean weight and the share
    accepted (pooled over raters), with the mean gap between the two weighted by
    words (expected calibration error); per floor in :data:`WEIGHT_FLOORS` the
    share accepted of the words from that weight and the coverage of the
    distance if only they were kept. None where the key holds no weights."""
    weight = {
        (it.item, d, _norm(w)): x
        for it in key.items
        for d, ws in it.kb_weights.items()
        for w, x in zip(it.kb_words.get(d, []), ws, strict=True)
    }
    if not weight:
        return None
    rated = [
        (r, weight[(r.item, r.distance, _norm(r.word))])
        for r in key.rows
        if "kb" in r.sources and (r.item, r.distance, _norm(r.word)) in weight
    ]
    bands: list[dict[str, Any]] = []
    floors: list[dict[str, Any]] = []
    errors: dict[str, float] = {}
    losses: dict[str, float] = {}
    for d in [*key.distances, None]:
        mine = [(r, w) for r, w in rated if d in (None, r.distance)]
        rows = _bands(mine, sheets)
        bands += [{"distance": "all" if d is None else d, **b} for b in rows]
        if rows:  # the gap between accepted and mean weight, weighted by words
            gap = sum(b["words"] * abs(b["accepted"] - b["mean_weight"]) for b in rows)
            errors["all" if d is None else str(d)] = round(gap / len(mine), 3)
            losses["all" if d is None else str(d)] = _log_loss(mine, sheets)
        if d is None:
            continue
        for floor in WEIGHT_FLOORS:
            marks = [s[r.row] for s in sheets for r, w in mine if w >= floor]
            kept = [
                sum(x >= floor for x in it.kb_weights.get(d, [])) >= MIN_WORDS[d]
                for it in key.items
            ]
            floors.append(
                {
                    "distance": d,
                    "floor": floor,
                    "words": sum(w >= floor for _, w in mine),
                    "accepted": _share(marks),
                    "coverage": round(sum(kept) / len(kept), 3) if kept else None,
                }
            )
    return {"bands": bands, "error": errors, "log_loss": losses, "floors": floors}


def _log_loss(mine: Sequence[tuple[KeyRow, float]], sheets: Sequence[Mapping[str, bool]]) -> float:
    """Mean log loss of the weights (as probabilities, kept inside [1e-4, 1 - 1e-4])
    against every rater's mark."""
    losses = [
        -math.log(p if s[r.row] else 1.0 - p)
        for r, w in mine
        for p in [min(max(w, 1e-4), 1.0 - 1e-4)]
        for s in sheets
    ]
    return round(sum(losses) / len(losses), 3)


def targets(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Issue 20's targets against a rating report: one row per target, met or not."""
    out = []
    for row in report["acceptance"]:
        d = row["distance"]
        if d == "all":
            continue
        out.append(
            {
                "target": f"d{d} KB accepted >= {TARGET_ACCEPT[d]:.2f}",
                "value": row["kb"],
                "met": row["kb"] is not None and row["kb"] >= TARGET_ACCEPT[d],
            }
        )
        out.append(
            {
                "target": f"d{d} gap over other-scene >= {TARGET_GAP:.2f}",
                "value": row["gap"],
                "met": row["gap"] is not None and row["gap"] >= TARGET_GAP,
            }
        )
    share = report["coverage"]["share"]
    out.append(
        {
            "target": f"elements covered >= {TARGET_COVERAGE:.2f}",
            "value": share,
            "met": share is not None and share >= TARGET_COVERAGE,
        }
    )
    return out


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.0f}%"


def markdown(report: Mapping[str, Any]) -> str:
    """The report as a markdown table plus agreement and coverage lines."""
    lines = [
        "| distance | KB words | KB accepted | reference accepted | other-scene accepted | gap |",
        "|---|---|---|---|---|---|",
    ]
    for r in report["acceptance"]:
        name = f"{r['distance']} {r['name']}".strip()
        gap = "n/a" if r["gap"] is None else f"{r['gap']:+.2f}"
        lines.append(
            f"| {name} | {r['kb_words']} | {_pct(r['kb'])} | {_pct(r['reference'])} "
            f"| {_pct(r['other'])} | {gap} |"
        )
    ag, cov = report["agreement"], report["coverage"]
    kappa = "n/a" if ag["kappa"] is None else f"{ag['kappa']:.2f}"
    lines += [
        "",
        f"{report['items']} elements, {report['rows']} rows, {report['raters']} rater(s); "
        f"agreement: {ag['kind']} kappa {kappa}, raw {_pct(ag['observed'])}; "
        f"coverage (>=2 KB words at d1-3, >=1 at d4-5): {_pct(cov['share'])} "
        f"({cov['covered']}/{cov['elements']}); per distance "
        + ", ".join(f"d{d} {_pct(v)}" for d, v in cov["per_distance"].items())
        + f"; of the {cov['extracted']} elements the KB extracted: "
        + ", ".join(f"d{d} {_pct(v)}" for d, v in cov["per_distance_extracted"].items())
        + "; share of all rows each rater accepted: "
        + ", ".join(_pct(x) for x in report["per_rater"]),
    ]
    return "\n".join(lines + _calibration_lines(report.get("calibration"))) + "\n"


def _calibration_lines(cal: Mapping[str, Any] | None) -> list[str]:
    """The calibration tables in markdown (none for a key without weights)."""
    if not cal:
        return []
    lines = [
        "",
        "| distance | weight | KB words | mean weight | accepted |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {b['distance']} | {b['band']} | {b['words']} | {b['mean_weight']:.2f} "
        f"| {_pct(b['accepted'])} |"
        for b in cal["bands"]
    ]
    lines += [
        "",
        "calibration error (|accepted - mean weight| per band, weighted by words): "
        + ", ".join(f"{d} {e:.2f}" for d, e in cal["error"].items())
        + "; log loss of the weights: "
        + ", ".join(f"{d} {e:.3f}" for d, e in cal["log_loss"].items()),
        "",
        "| distance | weight floor | KB words | accepted | coverage |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {f['distance']} | {f['floor']:.2f} | {f['words']} | {_pct(f['accepted'])} "
        f"| {_pct(f['coverage'])} |"
        for f in cal["floors"]
    ]
    return lines


# -- files -----------------------------------------------------------------------
def write_sheet(sheet: Sheet, out: Path, key_path: Path, force: bool = False) -> list[Path]:
    """``out/sheet.csv``, ``out/sheet.jsonl`` and the key; an existing file (maybe
    a rater's work) is kept unless ``force``."""
    csv_path, jsonl_path = out / "sheet.csv", out / "sheet.jsonl"
    paths = [csv_path, jsonl_path, key_path]
    existing = [p for p in paths if p.exists()]
    if existing and not force:
        raise UserInputError(
            f"{existing[0]} exists (it may hold a rater's work); pick another --out/--key or pass --force"
        )
    out.mkdir(parents=True, exist_ok=True)
    key_path.parent.mkdir(parents=True, exist_ok=True)
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=SHEET_COLUMNS)
        writer.writeheader()
        writer.writerows(asdict(r) for r in sheet.rows)
    jsonl_path.write_text(
        "".join(json.dumps(asdict(r), ensure_ascii=False) + "\n" for r in sheet.rows),
        encoding="utf-8",
    )
    key_path.write_text(sheet.key.model_dump_json(indent=1) + "\n", encoding="utf-8")
    (out / "INSTRUCTIONS.txt").write_text(INSTRUCTIONS, encoding="utf-8")
    return paths


def read_key(path: Path) -> Key:
    if not path.is_file():
        raise UserInputError(f"no key file at {path}; give the key.json that eval sheet wrote")
    try:
        return Key.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        first = str(exc).splitlines()[0]
        raise UserInputError(
            f"{path} is not a rating key ({first}); give eval sheet's key.json"
        ) from None


def _sheet_records(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise UserInputError(f"no sheet at {path}; give a filled sheet.csv or sheet.jsonl")
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet may add a BOM
    except UnicodeDecodeError as exc:
        raise UserInputError(
            f"{path}: not UTF-8 text (byte {exc.start}); save the sheet as UTF-8 CSV"
        ) from None
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        missing = [c for c in ("row", "word", "accept") if c not in (reader.fieldnames or [])]
        if missing:
            raise UserInputError(
                f"{path} has no {missing[0]!r} column; fill the accept column of eval sheet's sheet"
            )
        return list(reader)
    if path.suffix.lower() == ".jsonl":
        records = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                raise UserInputError(
                    f"{path}:{n}: not JSON; fill eval sheet's sheet.jsonl"
                ) from None
            missing = [
                c for c in ("row", "word", "accept") if not isinstance(rec, dict) or c not in rec
            ]
            if missing:
                raise UserInputError(
                    f"{path}:{n}: no {missing[0]!r} field; fill eval sheet's sheet"
                )
            records.append(rec)
        return records
    raise UserInputError(f"{path}: a sheet is a .csv or .jsonl file")


def parse_sheet(path: Path, records: Sequence[Mapping[str, Any]], key: Key) -> dict[str, bool]:
    """Row id -> accepted, checked against the key: every row once, known ids, the
    key's word, a value in ACCEPT_VALUES."""
    words = {r.row: r.word for r in key.rows}
    out: dict[str, bool] = {}
    allowed = "/".join(ACCEPT_VALUES)
    for rec in records:
        rid = str(rec["row"]).strip()
        if rid not in words:
            raise UserInputError(f"{path}: unknown row id {rid!r}; this sheet is not from that key")
        if rid in out:
            raise UserInputError(f"{path}: row {rid} appears twice; keep one")
        if " ".join(str(rec["word"]).split()) != words[rid]:
            raise UserInputError(
                f"{path}: row {rid} has word {rec['word']!r}, the key says {words[rid]!r}; "
                "sheet and key are from different eval sheet runs"
            )
        value = str(rec["accept"] if rec["accept"] is not None else "").strip().casefold()
        if value not in ACCEPT_VALUES:
            raise UserInputError(
                f"{path}: row {rid} has accept {rec['accept']!r}; mark every row {allowed}"
            )
        out[rid] = ACCEPT_VALUES[value]
    missing = [r for r in words if r not in out]
    if missing:
        raise UserInputError(
            f"{path} lacks {len(missing)} row(s) of the key (first {missing[0]}); rate every row"
        )
    return out


def read_sheet(path: Path, key: Key) -> dict[str, bool]:
    return parse_sheet(path, _sheet_records(path), key)


def rate(key_path: Path, sheet_paths: Sequence[Path]) -> dict[str, Any]:
    """Library entry point of ``eval ratings``."""
    key = read_key(key_path)
    report = score_ratings(key, [read_sheet(p, key) for p in sheet_paths])
    report["sheets"] = [str(p) for p in sheet_paths]
    return report


def make_sheet(
    kb: Any,
    reference: Path,
    out: Path,
    key_path: Path | None = None,
    distances: Sequence[int] = DISTANCES,
    seed: int = 0,
    limit: int | None = None,
    force: bool = False,
) -> tuple[Sheet, list[Path]]:
    """Library entry point of ``eval sheet``: match, build, write."""
    from .association_eval import match_items, read_gold

    matched = match_items(kb, read_gold(reference))
    sheet = build_sheet(matched, distances, seed, limit, reference=reference.name)
    paths = write_sheet(sheet, out, key_path or out / "key.json", force)
    return sheet, paths
