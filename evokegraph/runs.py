"""What every stage's runner shares: per-item failures, progress events, run ids.

A stage backend (extractor, miner, realizer) answers per item either a result
or a :class:`Failed` with a one-line reason (and the raw model text, if any);
it never raises for one bad item. Runners report progress to a
:class:`Progress` sink; the CLI plugs a rich bar in, tests plug nothing. A
:class:`RunContext` carries what belongs to one run and is no setting of any
backend: its id and its progress sink.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol


@dataclass
class Failed:
    """One item a stage could not handle: recorded, never fatal."""

    reason: str
    raw: str = ""


class Advances(Protocol):
    """What a runner reports progress to: ``advance(stage, n)``."""

    def advance(self, stage: str, n: int) -> None: ...


class Progress:
    """A tiny sink for progress events; the CLI plugs rich in, tests nothing."""

    def advance(self, stage: str, n: int) -> None:  # pragma: no cover - trivial
        pass

    def build(self, what: str, done: int, total: int) -> None:  # pragma: no cover - trivial
        """A one-time build (the miner's vocabulary): ``done`` of ``total``."""


class _Forward(Progress):
    def __init__(self, sink: Advances) -> None:
        self.sink = sink

    def advance(self, stage: str, n: int) -> None:
        self.sink.advance(stage, n)


def as_progress(sink: Advances | None) -> Progress:
    """Any ``advance(stage, n)`` sink as a :class:`Progress` (None: one that ignores all)."""
    if sink is None:
        return Progress()
    return sink if isinstance(sink, Progress) else _Forward(sink)


def new_run_id(command: str) -> str:
    """The one run-id format: ``command-YYYYmmddTHHMMSS-xxxxxx`` (UTC, random tail)."""
    return f"{command}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


@dataclass
class RunContext:
    """One run's id and progress sink (never part of a backend's options or keys)."""

    command: str = "ingest"
    progress: Progress = field(default_factory=Progress)
    run_id: str = ""

    def __post_init__(self) -> None:
        self.run_id = self.run_id or new_run_id(self.command)

    def build_progress(self, what: str) -> Callable[[int, int], None]:
        """A ``(done, total)`` callback for a backend's one-time build."""
        return lambda done, total: self.progress.build(what, done, total)
