"""One exception hierarchy for the whole library.

The CLI turns any :class:`EvokeGraphError` into a one-line ``Error: ...`` and a
non-zero exit code; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno
import re


class EvokeGraphError(Exception):
    """Base class of every error evokegraph raises on purpose."""

    exit_code = 1


class RecordError(EvokeGraphError):
    """A record that breaks its own rules: an empty concept key, an evocation
    written before its weight was finalized. Deliberately not a ``ValueError``:
    pydantic wraps ``ValueError`` from validators into its own
    ``ValidationError``; this one reaches the caller as it is."""


class UserInputError(EvokeGraphError):
    """Bad input from the user: a path, an option, a parameter."""

    exit_code = 2


class StoreError(EvokeGraphError):
    """The graph store cannot do what was asked."""


class NotAKnowledgeBaseError(StoreError):
    """The path exists but holds no evokegraph knowledge base."""


class SchemaVersionError(StoreError):
    """The knowledge base was written by a newer evokegraph."""


class WriterLockedError(StoreError):
    """Another process holds the single writer slot of the embedded store."""


class ReadOnlyQueryError(UserInputError):
    """A write query was sent without permission to write."""


class QueryTimeoutError(UserInputError):
    """A query ran past its time limit (or its client went away) and was stopped."""


class ExplorerBusyError(EvokeGraphError):
    """The explorer runs as many user queries as it takes, and as many wait:
    answered at once (HTTP 503), to be tried again in a moment."""


class DiskFullError(StoreError):
    """The disk under the knowledge base (or an output file) is full."""


class SourceError(UserInputError):
    """A source file (COCO JSON, list file) is malformed; names file and line."""


class ImageError(EvokeGraphError):
    """One image cannot be used; recorded as a failure, never fatal to a run."""


class ModelError(EvokeGraphError):
    """A model backend cannot be loaded or answered badly."""


class ModelOutputError(ModelError):
    """A model answer could not be repaired into the expected schema."""

    def __init__(self, message: str, raw: str = "") -> None:
        super().__init__(message)
        self.raw = raw


class RegistryError(UserInputError):
    """An unknown backend or model name."""


_NO_SPACE = "no space left on device"
_PATH = re.compile(r"path: (\S+)")


def disk_full(exc: BaseException) -> DiskFullError | None:
    """The one-line :class:`DiskFullError` for an exception caused by a full
    disk (``ENOSPC`` from Python, "No space left on device" from the embedded
    engine, anywhere in its chain); None for any other exception."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, DiskFullError):
            return cur
        text = str(cur)
        if getattr(cur, "errno", None) == errno.ENOSPC or _NO_SPACE in text.lower():
            found = _PATH.search(text)
            where = getattr(cur, "filename", None) or (found.group(1) if found else "")
            return DiskFullError(
                f"the disk is full{f' (writing {where})' if where else ''}: free space on it "
                "(or point --db / the output at a larger disk), then run the same command "
                "again; what was committed is kept and the rerun picks up from there"
            )
        cur = cur.__cause__ or cur.__context__
    return None
