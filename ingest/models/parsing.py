"""Model answers -> validated records: repair, normalise, validate, or fail.

Every answer goes through json-repair (truncated JSON, prose around JSON,
single quotes, trailing commas), then a small normalisation of what is safely
normalisable (``"Distance 3"``/``"distance_3"``/``"3"`` keys, a list where a
dict of distances belongs, strings where lists belong), then a pydantic model
with ``extra="forbid"``. What still fails raises :class:`ModelOutputError`
with the reason and the raw text; callers turn that into a recorded failure
(policy ``skip``) or let it propagate (policy ``raise``). Words are kept
verbatim as data: quotes, backticks and Cypher fragments included.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import json_repair
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from evokegraph.errors import ModelOutputError
from evokegraph.levels import DISTANCES, MAX_EVOKES_DISTANCE
from evokegraph.records import concept_key

MAX_WORD_CHARS = 40
MAX_WORDS_PER_PHRASE = 3
Policy = Literal["raise", "skip"]
_DIST = re.compile(
    rf"^\s*(?:distance|dist|d|level|lvl)?[\s_:-]*([1-{MAX_EVOKES_DISTANCE}])\s*$", re.IGNORECASE
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ElementAnswer(Strict):
    name: str = Field(min_length=1, max_length=MAX_WORD_CHARS)
    pos: Literal["NOUN", "VERB", "ADJ"] = "NOUN"
    salience: float = Field(default=1.0, ge=0.0, le=1.0)
    box: list[float] | None = None

    @field_validator("pos", mode="before")
    @classmethod
    def _pos(cls, v: Any) -> Any:
        return {"noun": "NOUN", "verb": "VERB", "adj": "ADJ", "adjective": "ADJ"}.get(
            str(v).lower(), v
        )


class ExtractionAnswer(Strict):
    description: str = Field(min_length=1)
    elements: list[ElementAnswer] = Field(min_length=1)


class AssociationAnswer(Strict):
    """word -> {distance 1..5 -> [associations]}."""

    associations: dict[str, dict[int, list[str]]]


def repair(raw: str) -> Any:
    """Best-effort JSON from a model's text; raises ModelOutputError if none."""
    text = (raw or "").strip()
    if not text:
        raise ModelOutputError("empty answer", raw=raw or "")
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL)
    if fenced:
        text = fenced.group(1)
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start < 0:
        raise ModelOutputError("no JSON object in the answer", raw=raw)
    data = json_repair.loads(text[start:])
    if data in ("", None, [], {}):
        raise ModelOutputError("no JSON object in the answer", raw=raw)
    return data


def _distance(key: Any) -> int | None:
    m = _DIST.match(str(key))
    return int(m.group(1)) if m else None


def _words(value: Any) -> list[str]:
    if isinstance(value, str):
        return [w.strip() for w in re.split(r"[,;]", value) if w.strip()]
    if isinstance(value, list):
        return [w.strip() for w in value if isinstance(w, str) and w.strip()]
    return []


def _levels(value: Any) -> dict[int, list[str]] | None:
    """``{"distance 1": [...]}`` / ``[[...], [...]]`` / ``[{"distance": 1, "words": [...]}]``."""
    if isinstance(value, dict):
        out: dict[int, list[str]] = {}
        for k, v in value.items():
            d = _distance(k)
            if d is None:
                return None
            out[d] = _words(v)
        return out
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        return {i + 1: _words(v) for i, v in enumerate(value[:MAX_EVOKES_DISTANCE])}
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        out = {}
        for v in value:
            d = _distance(v.get("distance", v.get("level", "")))
            if d is None:
                return None
            out[d] = _words(v.get("words", v.get("associations", [])))
        return out
    return None


def clean_words(word: str, candidates: list[str], seen: set[str]) -> list[str]:
    """Drop the word itself, duplicates and absurd strings; keep text verbatim."""
    out = []
    for c in candidates:
        key = concept_key(c)
        if (
            not key
            or key == concept_key(word)
            or key in seen
            or len(c) > MAX_WORD_CHARS
            or len(c.split()) > MAX_WORDS_PER_PHRASE
        ):
            continue
        seen.add(key)
        out.append(c.strip())
    return out


def mention_counts(raw: str, words: list[str]) -> dict[tuple[str, str], int]:
    """How often the answer names each (word, association), across distances,
    before duplicates are dropped: the agreement signal of the edge weight."""
    try:
        data = repair(raw)
    except ModelOutputError:
        return {}
    if isinstance(data, dict) and set(data) == {"associations"}:
        data = data["associations"]
    wanted = {concept_key(w): w for w in words}
    counts: dict[tuple[str, str], int] = {}
    for key, value in data.items() if isinstance(data, dict) else ():
        word = wanted.get(concept_key(str(key)))
        if not word:
            continue
        levels = _levels(value) or {}
        for assoc in (a for ws in levels.values() for a in ws):
            k = (word, concept_key(assoc))
            counts[k] = counts.get(k, 0) + 1
    return counts


def parse_associations(
    raw: str, words: list[str], per_distance: int = 3
) -> dict[str, dict[int, list[str]]]:
    """The LLM's associations for ``words``; raises ModelOutputError."""
    data = repair(raw)
    if isinstance(data, dict) and set(data) == {"associations"}:
        data = data["associations"]
    if not isinstance(data, dict):
        raise ModelOutputError(f"expected an object of words, got {type(data).__name__}", raw=raw)
    wanted = {concept_key(w): w for w in words}
    result: dict[str, dict[int, list[str]]] = {}
    for key, value in data.items():
        word = wanted.get(concept_key(str(key)))
        if word is None:
            continue  # a word we did not ask about
        levels = _levels(value)
        if levels is None:
            raise ModelOutputError(
                f"{key!r}: distances must be 1..{MAX_EVOKES_DISTANCE}, got {str(value)[:80]}",
                raw=raw,
            )
        seen: set[str] = set()
        result[word] = {
            d: clean_words(word, levels.get(d, []), seen)[:per_distance] for d in DISTANCES
        }
    try:
        AssociationAnswer(associations=result)
    except ValidationError as exc:  # pragma: no cover - built above, kept as the contract
        raise ModelOutputError(str(exc).splitlines()[0], raw=raw) from None
    if not result or not any(ws for lv in result.values() for ws in lv.values()):
        raise ModelOutputError("no usable associations for the asked words", raw=raw)
    return result


def parse_extraction(raw: str, top_k: int = 5) -> ExtractionAnswer:
    """The VLM's description + salient elements; raises ModelOutputError."""
    data = repair(raw)
    if isinstance(data, list):
        data = {"description": "", "elements": data}
    if not isinstance(data, dict):
        raise ModelOutputError(f"expected an object, got {type(data).__name__}", raw=raw)
    els = data.get("elements", data.get("objects"))
    if isinstance(els, list):
        els = [{"name": e} if isinstance(e, str) else e for e in els]
    data = {"description": data.get("description") or data.get("caption") or "", "elements": els}
    try:
        ans = ExtractionAnswer.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ModelOutputError(f"{where}: {err['msg']}", raw=raw) from None
    seen: set[str] = set()
    kept = []
    for e in ans.elements:
        if concept_key(e.name) not in seen:
            seen.add(concept_key(e.name))
            kept.append(e)
    ans.elements = kept[:top_k]
    return ans
