"""Opening an embedded knowledge base that a failed checkpoint left behind.

When a checkpoint fails after its commit (a full disk, a killed process), the
committed transactions are safe in the write-ahead log, but LadybugDB refuses
read-only openers until a read-write opener has replayed it ("checkpoint
recovery is pending"). A read-only command (``stats``, ``show``, ``cypher``,
the explorer) then recovers the file itself: one read-write open and close,
which replays the log, then the read-only open it asked for. When that cannot
be done (another process holds the writer slot, the disk is still full) it
says so in one line and names what to do.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from evokegraph.errors import DiskFullError, StoreError, WriterLockedError, disk_full

# what LadybugDB says when a file needs a read-write open to recover: a
# checkpoint pending after it failed; a torn write-ahead log tail (a write that
# failed half way, e.g. on a full disk); a checkpoint that failed half way
# (0.22.0 then fails the first open with a C++ string error, and the next one
# finds the file recovered)
_NEEDS_RECOVERY = ("recovery is pending", "wal file is corrupted", "basic_string")
RECOVERY_ATTEMPTS = 3
WAIT_FOR_WRITER_S = 30.0
MIN_FREE_BYTES = 16 * 2**20  # less free than this beside a pending replay: the disk is full


def needs_recovery(exc: BaseException) -> bool:
    return any(w in str(exc).lower() for w in _NEEDS_RECOVERY)


def open_database(path: Path, *, read_only: bool) -> Any:
    """``ladybug.Database(path, read_only=...)``; a file that needs recovery
    (see :func:`needs_recovery`) is recovered first."""
    import ladybug

    deadline = time.monotonic() + WAIT_FOR_WRITER_S
    replays = 0
    while True:
        try:
            return ladybug.Database(str(path), read_only=read_only)
        except (RuntimeError, ValueError) as exc:
            if read_only and _wal_being_written(exc) and time.monotonic() < deadline:
                time.sleep(0.05)  # a live writer has just started its log: look again
                continue
            if not needs_recovery(exc):
                raise
            if replays >= RECOVERY_ATTEMPTS:  # replayed, and it still needs it
                raise _still_pending(path, exc) from None
        try:
            recover(path)
            replays += 1
        except WriterLockedError:
            # a live writer is checkpointing: its checkpoint ends the pending
            # state; a read-only opener waits for it instead of failing
            if not read_only or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _wal_being_written(exc: BaseException) -> bool:
    """The log file exists but holds nothing yet: a writer in another process
    opened it a moment ago ("Reading past the end of the file kb.kb.wal with
    size 0"); a read-only opener waits a moment rather than failing."""
    msg = str(exc).lower()
    return "reading past the end of the file" in msg and ".wal" in msg


def _still_pending(path: Path, exc: BaseException) -> StoreError:
    """A replay that returned without finishing: a full disk, else a plain error."""
    if shutil.disk_usage(path.parent).free < MIN_FREE_BYTES:
        return DiskFullError(
            f"{path} has committed writes waiting in its log, and replaying them needs "
            "free space on its disk: free some, then run this command again"
        )
    return StoreError(
        f"{path} still needs recovery after {RECOVERY_ATTEMPTS} replays of its log "
        f"({str(exc).splitlines()[0]}); restore it from a copy"
    )


def recover(path: Path) -> None:
    """Replay the write-ahead log of ``path``: read-write opens and closes, the
    last one replaying the log up to a torn tail (a transaction whose write
    failed half way never committed: its commit record comes last)."""
    import ladybug

    last: BaseException | None = None
    for attempt in range(RECOVERY_ATTEMPTS):
        strict = attempt < RECOVERY_ATTEMPTS - 1
        try:
            ladybug.Database(str(path), throw_on_wal_replay_failure=strict).close()
            return
        except (RuntimeError, ValueError) as exc:
            _raise_plain(path, exc)
            last = exc
    reason = str(last).splitlines()[0] if last else "unknown"
    raise StoreError(f"cannot recover {path}: {reason}; restore it from a copy")


def _raise_plain(path: Path, exc: BaseException) -> None:
    """One line for the failures a user can act on: a full disk, a held lock."""
    if disk_full(exc) is not None:
        raise DiskFullError(
            f"{path} has committed writes waiting in its log, and replaying them needs "
            "free space on its disk: free some, then run this command again"
        ) from None
    if "lock" in str(exc).lower() and not needs_recovery(exc):
        raise WriterLockedError(
            f"{path} is being recovered or written by another process; run this "
            "command again when it has finished"
        ) from None
