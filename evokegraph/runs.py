"""What every stage's runner shares: per-item failures and progress events.

A stage backend (extractor, miner, realizer) answers per item either a result
or a :class:`Failed` with a one-line reason (and the raw model text, if any);
it never raises for one bad item. Runners report progress to a
:class:`Progress` sink; the CLI plugs a rich bar in, tests plug nothing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Failed:
    """One item a stage could not handle: recorded, never fatal."""

    reason: str
    raw: str = ""


class Progress:
    """A tiny sink for progress events; the CLI plugs rich in, tests nothing."""

    def advance(self, stage: str, n: int) -> None:  # pragma: no cover - trivial
        pass
