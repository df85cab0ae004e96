"""Declared options of the offline extractor and miners (as llm's model ``Options``).

The backends' own modules (``caption_text.py``, ``lexical.py``, ``contextual.py``)
keep their factories; :func:`evokegraph.ingest.stages.load_backends` gives each
registered backend its class from :data:`DECLARED` (``Registry.declare``), so
``-o KEY=VALUE`` is validated and converted by it, ``evokegraph backends`` lists
its fields; each backend keeps its values as ``self.options`` and derives
``settings()`` from it (:meth:`evokegraph.options.BackendOptions.settings`). The model backends
(``llm``, ``vlm``) declare theirs beside their factories
(``evokegraph.ingest.models.backends``).

A field hashed into the stage key as it is keeps the name and the default the
backend's ``settings()`` has always used, so stored stage keys stay valid;
:func:`~evokegraph.options.keyless` marks one the backend keys in a derived form.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from evokegraph.options import BackendOptions, keyless


class CaptionTextOptions(BackendOptions):
    """The ``caption-text`` extractor: salient elements from literal captions."""

    top_k: int = Field(5, ge=1, description="salient elements per image")
    tagger: Literal["auto", "spacy", "heuristic"] = keyless(
        "auto",
        "part-of-speech tagger: spacy (en_core_web_sm), heuristic (WordNet), "
        "auto (spacy when installed); the key holds the one it resolved to",
    )


class LexicalOptions(BackendOptions):
    """The ``lexical`` miner: WordNet relations ranked by the image's context."""

    per_distance: int = Field(3, ge=1, description="associations per element and distance")


class ContextualOptions(BackendOptions):
    """The ``contextual`` miner: a sentence encoder over a cached vocabulary."""

    per_distance: int = Field(3, ge=1, description="associations per element and distance")
    encoder: str = Field(
        "all-MiniLM-L6-v2", min_length=1, description="sentence-transformers model"
    )
    min_zipf: float = keyless(
        3.0,
        "vocabulary's word-frequency floor (Zipf); keyed through the vocabulary key",
        ge=0,
    )
    written: str = keyless(
        "",
        "JSONL of written associations (caption, word, d) the miner reads distance 5's "
        "evidence from; empty: the shipped memory; keyed by its content digest",
    )


# (registry kind, backend name, options class): what load_backends declares
DECLARED: tuple[tuple[Literal["extractor", "miner"], str, type[BackendOptions]], ...] = (
    ("extractor", "caption-text", CaptionTextOptions),
    ("miner", "lexical", LexicalOptions),
    ("miner", "contextual", ContextualOptions),
)
