"""Image-caption pairs: the row format, caption normalisation, dedupe, splits.

Pure (no I/O): the graph's Cypher reads live in :mod:`evokegraph.graph.pair_reads`
and hand their dict rows here; export and training import from here only.

Splits: an image keeps the split its source gave it (a COCO
``captions_val2017.json`` image is in ``val``, a CSV row's ``split`` column);
only images without one get the stable hash split of :func:`split_of`, so an
image is never in two splits and a source's own val/test stay held out.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from evokegraph.errors import UserInputError
from evokegraph.records import Pair, PathStep, unite

__all__ = [
    "Pair",
    "assign_split",
    "canonical_split",
    "dedupe",
    "literal_pairs",
    "norm_caption",
    "pair_from_row",
    "parse_split_ratio",
    "split_of",
]

Row = Mapping[str, Any]
_NOT_WORD = re.compile(r"[^\w\s]|_")
_SPLIT_ALIASES = {"validation": "val", "valid": "val", "dev": "val", "training": "train"}
_SPLIT_YEAR = re.compile(r"^(train|val|test)(?:[-_]?\d{2,4})$")
_SPLIT_UNSAFE = re.compile(r"[^\w-]+")  # a split names export files: no dots, no slashes


# -- caption normalisation ----------------------------------------------------
def norm_caption(text: str) -> str:
    """The one caption key: Unicode NFKC, casefolded, punctuation dropped,
    whitespace collapsed. "A dog." and "a  dog" are one caption; "café" keeps
    its letter. Used by export (dedupe) and training (false negatives)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_NOT_WORD.sub("", folded).split())


def dedupe(pairs: Iterable[Pair]) -> list[Pair]:
    """Identical captions of one image (by :func:`norm_caption`) once; the
    lowest depth, then the highest weight, wins. Sorted by (image, depth)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for p in sorted(pairs, key=lambda p: (p.image_id, p.depth, -p.weight, p.caption)):
        key = (p.image_id, norm_caption(p.caption))
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


# -- the row format -----------------------------------------------------------
def _uri(r: Row) -> str:
    return str((r.get("uris") or [""])[0])


def pair_from_row(r: Row) -> Pair:
    """One caption row (image_id, uris, text, depth, weight, split, realizer,
    path as JSON) -> a :class:`Pair`."""
    return Pair(
        image_id=r["image_id"],
        uri=_uri(r),
        caption=r["text"],
        depth=int(r["depth"]),
        weight=float(r["weight"]),
        split=r.get("split") or "",
        realizer=r["realizer"],
        path=[PathStep(**s) for s in json.loads(r.get("path") or "[]")],
    )


def literal_pairs(r: Row) -> Iterator[Pair]:
    """An image row (image_id, uris, captions, split) -> its own literal
    captions as depth-0 pairs, weight 1, each distinct text once."""
    for text in unite(r.get("captions")):
        yield Pair(
            image_id=r["image_id"],
            uri=_uri(r),
            caption=text,
            depth=0,
            weight=1.0,
            split=r.get("split") or "",
            realizer="literal",
        )


# -- splits -------------------------------------------------------------------
_RATIO_HINT = "write e.g. train=0.9,val=0.05,test=0.05"


def parse_split_ratio(text: str) -> dict[str, float]:
    """``"train=0.9,val=0.05,test=0.05"`` -> ratios that sum to 1."""
    out: dict[str, float] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise UserInputError(f"bad split ratio {part!r}; {_RATIO_HINT}") from None
        if not sep or not name.strip() or out[name.strip()] < 0:
            raise UserInputError(f"bad split ratio {part!r}; {_RATIO_HINT}")
    total = sum(out.values())
    if total <= 0:
        raise UserInputError(f"split ratios must not all be zero; {_RATIO_HINT}")
    return {k: v / total for k, v in out.items()}


def split_of(image_id: str, ratios: Mapping[str, float]) -> str:
    """Stable hash assignment: the same image always lands in the same split."""
    u = int(hashlib.sha256(f"split|{image_id}".encode()).hexdigest()[:12], 16) / 16**12
    acc = 0.0
    for name, r in ratios.items():
        acc += r
        if u < acc:
            return name
    return list(ratios)[-1]


def canonical_split(name: str) -> str:
    """A source's split name as the export writes it: ``val2017`` -> ``val``,
    ``train2014`` -> ``train``, ``validation`` -> ``val``; others casefolded
    and kept (e.g. Karpathy's ``restval``), anything but letters, digits,
    ``_`` and ``-`` turned into ``-`` since the split names export files."""
    key = _SPLIT_UNSAFE.sub("-", name.strip().casefold()).strip("-")
    key = _SPLIT_ALIASES.get(key, key)
    m = _SPLIT_YEAR.match(key)
    return m.group(1) if m else key


def assign_split(image_id: str, stored: str, ratios: Mapping[str, float]) -> str:
    """The image's split: its source's own (canonical) split when it has one,
    else the hash split over ``ratios``."""
    own = canonical_split(stored)
    return own if own else split_of(image_id, ratios)
