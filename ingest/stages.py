"""The ingestion stages' protocols and registries.

Two small protocols: :class:`ElementExtractor` (image -> description + ranked
salient elements) and :class:`AssociationMiner` (elements in context ->
associations at distances 1..5). Backends register under a short name
(``caption-text``, ``lexical``, ``vlm``, ``llm``) and the runner only ever sees
the protocol. A backend answers per item either a result or a
:class:`~evokegraph.runs.Failed` with a one-line reason (and the raw model
text, if any); it never raises for one bad item.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from evokegraph.records import Element, Evocation, ImageRecord
from evokegraph.registry import Registry
from evokegraph.runs import Failed

if TYPE_CHECKING:
    from PIL import Image as PILImage


@dataclass
class ImageItem:
    """An image on its way through the stages."""

    record: ImageRecord
    path: Path | None = None
    image: PILImage.Image | None = None  # decoded, RGB, upright; None if not loaded


@dataclass
class Extraction:
    description: str
    elements: list[Element]
    usage: dict[str, float] = field(default_factory=dict)  # tokens, cost


@dataclass
class MiningInput:
    item: ImageItem
    description: str
    elements: list[Element]


@runtime_checkable
class ElementExtractor(Protocol):
    name: str

    def settings(self) -> dict[str, Any]:
        """Everything that changes the output; hashed into the stage key."""

    def extract(self, items: Sequence[ImageItem]) -> list[Extraction | Failed]:
        """One answer per item, in order."""


@runtime_checkable
class AssociationMiner(Protocol):
    name: str

    def settings(self) -> dict[str, Any]: ...

    def mine(self, items: Sequence[MiningInput]) -> list[list[Evocation] | Failed]:
        """For each item, associations of its elements at distances 1..5."""


@dataclass(frozen=True)
class Backends:
    """Backend objects a run uses instead of building the ones its config names (a
    test's fake, a backend on a stand-in engine); None: built from the config."""

    extractor: ElementExtractor | None = None
    miner: AssociationMiner | None = None


BY_NAME = Backends()  # every backend built from the config

BuildProgress = Callable[[int, int], None]  # (done, total) of a one-time build


@runtime_checkable
class Loads(Protocol):
    """A backend that loads its models (and builds what it caches) on demand, and
    can be asked to do so now: a Ray actor as it starts, the local runner before
    its first batch, so that no batch pays for it and a load error ends the run
    before any work."""

    def load(self, progress: BuildProgress | None = None) -> None: ...


EXTRACTORS: Registry[ElementExtractor] = Registry("extractor")
MINERS: Registry[AssociationMiner] = Registry("miner")

# Modules whose import registers backends. Model backends import their heavy
# dependencies lazily, so listing them costs nothing until they are used.
BACKEND_MODULES = (
    "evokegraph.ingest.caption_text",
    "evokegraph.ingest.lexical",
    "evokegraph.ingest.contextual",
    "evokegraph.ingest.models.backends",
    "evokegraph.ingest.gap_fill",
)


def mine_each(
    items: Sequence[MiningInput],
    mine_one: Callable[[Sequence[Element], str], list[Evocation]],
    who: str,
) -> list[list[Evocation] | Failed]:
    """Run a miner's ``mine_one`` per image: one bad item becomes a
    :class:`Failed` naming ``who`` and the error, never the end of the run."""
    out: list[list[Evocation] | Failed] = []
    for it in items:
        try:
            out.append(mine_one(it.elements, it.description))
        except Exception as exc:
            out.append(Failed(f"{who} failed: {type(exc).__name__}: {exc}"))
    return out


def load_backends() -> None:
    """Import the backend modules (which register their factories), then give the
    offline backends their declared options (:mod:`evokegraph.ingest.options`)."""
    from evokegraph.ingest.options import DECLARED

    for mod in BACKEND_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if not exc.name or not (mod == exc.name or mod.startswith(exc.name + ".")):
                raise  # a missing dependency inside the backend: a real error
    registries: dict[str, Registry[Any]] = {"extractor": EXTRACTORS, "miner": MINERS}
    for kind, name, options in DECLARED:
        if name in registries[kind]:
            registries[kind].declare(name, options)


def make_extractor(name: str, **options: Any) -> ElementExtractor:
    load_backends()
    return EXTRACTORS.create(name, **options)


def make_miner(name: str, **options: Any) -> AssociationMiner:
    load_backends()
    return MINERS.create(name, **options)
