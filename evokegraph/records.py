"""Typed records that flow between the stages and into the graph store.

Every stage talks through these small pydantic models; they are the only
thing the store accepts. Identifiers are derived deterministically so that
writing the same records twice changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from evokegraph.errors import RecordError
from evokegraph.levels import MAX_EVOKES_DISTANCE

Pos = Literal["NOUN", "VERB", "ADJ", "ADV", "OTHER"]


def concept_key(word: str) -> str:
    """Canonical key of a concept: whitespace-normalised, casefolded.

    Lemmatisation happens before (in the extractor/miner); this only makes
    "Trees " and "trees" one key. Kept pure and tiny on purpose.
    """
    return " ".join(word.split()).casefold()


def element_id(image_id: str, concept: str) -> str:
    """One salient element of one image: the image plus its concept key."""
    return f"{image_id}:{concept_key(concept)}"


def short_hash(*parts: object, n: int = 24) -> str:
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8"))
    return h.hexdigest()[:n]


def unite(*groups: Iterable[str] | None) -> list[str]:
    """Order-keeping union (first occurrence wins) of uris, captions, keys.

    ``unite(["a", "b"], ["b", "c"]) == ["a", "b", "c"]``; ``None`` counts as
    empty. The one way lists of an image's uris or captions are merged.
    """
    return list(dict.fromkeys(x for g in groups if g for x in g))


def utcnow() -> datetime:
    return datetime.now(UTC)


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class ImageRecord(Record):
    """One image: ``id`` is the sha256 of its bytes, so a picture under two
    paths is one image with two ``uris``."""

    id: str = Field(min_length=8)
    uris: list[str] = Field(default_factory=list)
    width: int = 0
    height: int = 0
    format: str = ""
    split: str = ""
    captions: list[str] = Field(default_factory=list)
    description: str = ""


class Element(Record):
    """A salient element of one image (an instance of a concept)."""

    name: str  # surface form as the extractor saw it
    concept: str  # canonical concept key (lemma, casefolded)
    pos: Pos = "NOUN"
    saliency: float = 1.0
    rank: int = 0
    box: list[float] | None = None
    grounding: float | None = None

    @field_validator("concept")
    @classmethod
    def _canonical(cls, v: str) -> str:
        key = concept_key(v)
        if not key:
            raise RecordError(f"element {v!r}: empty concept key; give a non-blank concept")
        return key


class Evocation(Record):
    """``(Element)-[:EVOKES]->(Concept)``: an association mined in one image's
    context, at one distance of abstraction.

    Miners set ``rank`` and ``mentions``, the grounding stage sets
    ``grounding``; ``weight`` stays ``None`` until
    :func:`evokegraph.weights.finalize` computes it from those three, and the
    store refuses an evocation without one."""

    element: str  # concept key of the evoking element (within the image)
    concept: str  # canonical key of the evoked concept
    surface: str = ""  # the word as the miner wrote it
    pos: Pos = "NOUN"
    distance: int = Field(ge=1, le=MAX_EVOKES_DISTANCE)
    rank: int = 0
    mentions: int = Field(default=1, ge=1)  # times the miner produced it for this element
    # the miner's own confidence in [0, 1], comparable across images (None: the
    # miner gives none, e.g. an LLM's list); weights.finalize reads it
    score: float | None = Field(default=None, ge=0.0, le=1.0)
    weight: float | None = Field(default=None, ge=0.0, le=1.0)  # set by weights.finalize
    grounding: float | None = None
    run: str = ""

    @field_validator("element", "concept")
    @classmethod
    def _canonical(cls, v: str) -> str:
        key = concept_key(v)
        if not key:
            raise RecordError(f"evocation {v!r}: empty concept key; give a non-blank concept")
        return key


class ImageEntry(Record):
    """What one image contributes to the graph in one write.

    ``elements``/``evocations`` set to ``None`` leave what is stored alone;
    a list (even empty) replaces the image's stored elements/evocations, which
    is what makes writes idempotent and crash-safe (replace, never append).
    ``stage_keys`` record which pipeline settings produced each stage, so a
    rerun can skip what is already done.
    """

    image: ImageRecord
    elements: list[Element] | None = None
    evocations: list[Evocation] | None = None
    stage_keys: dict[str, str] = Field(default_factory=dict)


class PathStep(Record):
    """One edge of a traversal path."""

    kind: Literal["EVOKES", "ASSOCIATED_WITH"]
    source: str
    target: str
    distance: int
    weight: float


class ContextPath(Record):
    """A path from one salient element of an image to a concept reached at an
    accumulated abstraction ``depth``."""

    image_id: str
    element: str
    concept: str
    depth: int
    weight: float  # product of edge weights
    steps: list[PathStep]
    pos: Pos = "NOUN"

    @property
    def contextual(self) -> bool:
        return all(s.kind == "EVOKES" for s in self.steps)


class Caption(Record):
    """A caption read off the graph at one depth, with the path it came from."""

    id: str = ""
    image_id: str
    text: str
    depth: int = Field(ge=0)
    realizer: str
    model: str = ""
    path: list[PathStep] = Field(default_factory=list)
    uses: list[str] = Field(default_factory=list)  # concept keys
    weight: float = 1.0
    run: str = ""

    def model_post_init(self, __context: object) -> None:
        if not self.id:
            sig = "|".join(f"{s.kind}:{s.source}>{s.target}@{s.distance}" for s in self.path)
            self.id = short_hash(self.image_id, self.depth, self.realizer, self.text, sig)


class Failure(Record):
    """A recorded failure: one image (or answer) that a stage could not use."""

    id: str = ""
    image_id: str = ""
    uri: str = ""
    stage: str
    reason: str
    raw: str = ""
    run: str = ""
    at: datetime = Field(default_factory=utcnow)

    def model_post_init(self, __context: object) -> None:
        if not self.id:  # the same failure seen again is the same record (run, at: latest)
            self.id = short_hash(self.image_id or self.uri, self.stage, self.reason)


class RunRecord(Record):
    """Provenance of one run of a command (ingest, caption, ...)."""

    id: str
    command: str
    config: dict[str, object] = Field(default_factory=dict)
    versions: dict[str, str] = Field(default_factory=dict)
    started: datetime = Field(default_factory=utcnow)
    finished: datetime | None = None
    counts: dict[str, float] = Field(default_factory=dict)
    timings: dict[str, float] = Field(default_factory=dict)
    status: str = "running"


class GraphBatch(Record):
    """A batch of writes; the unit the store writes in one go."""

    images: list[ImageEntry] = Field(default_factory=list)
    captions: list[Caption] = Field(default_factory=list)
    failures: list[Failure] = Field(default_factory=list)
    concepts: dict[str, float] = Field(default_factory=dict)  # key -> concreteness


class Stats(Record):
    images: int = 0
    elements: int = 0
    concepts: int = 0
    evokes: int = 0
    associated_with: int = 0
    captions: int = 0
    failures: int = 0
    runs: int = 0


class EvocationView(Record):
    element: str
    concept: str
    surface: str
    pos: str
    distance: int
    rank: int
    weight: float


class ImageView(Record):
    """One image with what the graph knows of it."""

    image: ImageRecord
    elements: list[Element]
    evocations: list[EvocationView]
    captions: list[Caption]
    stage_keys: dict[str, str] = Field(default_factory=dict)


class Pair(Record):
    """An image-caption pair for export/training."""

    image_id: str
    uri: str
    caption: str
    depth: int
    weight: float
    split: str
    realizer: str
    path: list[PathStep] = Field(default_factory=list)
