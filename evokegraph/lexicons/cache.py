"""Compact caches of lexicon data, built once per machine and checked on every read.

Each Ray actor, CLI run and test process used to parse the same text files anew
as it started (the WordNet index ~3 s, the concreteness norms ~1-2 s at load 1).
What they build is written once to ``cache_dir()/NAME-KEY.marshal`` and read
back in ~0.1 s.

* KEY is a digest of the *contents* of the source files plus whatever else
  decides what is built from them (the parser's version, this format): a
  changed source gives another file, so a cache is never stale by design.
* The file holds a magic string, the whole key and a digest of the payload;
  a file that fails any of these checks (cut short, corrupt, another format,
  another Python's marshal) is not used: the data are built from the source
  again and the file rewritten.
* Written atomically (a temporary file in the same folder, then ``os.replace``),
  so processes starting together (the Ray actors) never read a partial file; a
  folder that cannot be written only costs the rebuild next time.
* ``marshal`` (plain data: dicts, lists, sets, str, int, float), loaded with the
  garbage collector paused (its passes over ~10^6 new objects were 3/4 of the
  load). Dicts keep their order; callers store the order they need.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import marshal
import os
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from evokegraph.paths import cache_dir

FORMAT = 1
MAGIC = b"EGLEXC\x00" + bytes([FORMAT])
_DIGEST = 32  # bytes of blake2b
T = TypeVar("T")


def source_key(paths: Iterable[Path], *extra: str) -> str:
    """A hex digest of the files' names and contents and of ``extra`` (versions),
    this format and this Python's marshal version."""
    h = hashlib.blake2b(digest_size=_DIGEST)
    for part in (f"format={FORMAT}", f"marshal={marshal.version}", *extra):
        h.update(part.encode() + b"\0")
    for p in paths:
        h.update(p.name.encode() + b"\0")
        with open(p, "rb") as f:
            data = f.read()
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def path_for(name: str, key: str) -> Path:
    return cache_dir() / f"{name}-{key[:16]}.marshal"


def read(path: Path, key: str) -> Any | None:
    """The cached value, or None when the file is missing or fails a check."""
    try:
        blob = path.read_bytes()
    except OSError:
        return None
    head = len(MAGIC) + 2 * _DIGEST
    if len(blob) < head or not blob.startswith(MAGIC):
        return None
    stored_key = blob[len(MAGIC) : len(MAGIC) + _DIGEST]
    checksum = blob[len(MAGIC) + _DIGEST : head]
    payload = memoryview(blob)[head:]
    if (
        stored_key != bytes.fromhex(key)
        or hashlib.blake2b(payload, digest_size=_DIGEST).digest() != checksum
    ):
        return None
    enabled = gc.isenabled()
    gc.disable()
    try:
        return marshal.loads(payload)
    except (ValueError, EOFError, TypeError):
        return None
    finally:
        if enabled:
            gc.enable()


def write(path: Path, key: str, value: Any) -> bool:
    """Write atomically; False (and nothing left behind) when it cannot be written."""
    payload = marshal.dumps(value)
    blob = (
        MAGIC
        + bytes.fromhex(key)
        + hashlib.blake2b(payload, digest_size=_DIGEST).digest()
        + payload
    )
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        os.chmod(tmp, 0o644)  # as the other caches (mkstemp makes it 0600)
        os.replace(tmp, path)
        return True
    except OSError as exc:
        print(f"evokegraph: could not write the cache {path}: {exc}", file=sys.stderr)
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        return False


def is_float_table(value: Any) -> bool:
    """A ``{str: float}`` dict: the shape of the word-norm tables."""
    return isinstance(value, dict) and all(
        type(k) is str and type(v) is float for k, v in value.items()
    )


def cached(name: str, key: str, build: Callable[[], T], valid: Callable[[Any], bool]) -> T:
    """``build()``'s value through the cache ``name``-``key``: read when present and
    sound (``valid`` checks its shape), else built and written."""
    path = path_for(name, key)
    value = read(path, key)
    if value is not None and valid(value):
        return value
    value = build()
    write(path, key, value)
    return value
