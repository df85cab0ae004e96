"""Importing the language libraries without optional dependencies evokegraph never uses.

NLTK's ``__init__`` imports all of NLTK, and with it SciPy (``scipy.stats``,
for Fisher's exact test in its collocations) and scikit-learn (its classifier
wrapper): ~1.5 of the ~1.8 s of ``import nltk``. spaCy imports thinc, which
imports PyTorch if it is installed (for its PyTorch wrapper layers): ~1.7 of
the ~2.3 s of ``import spacy``; ``en_core_web_sm`` is a thinc model on NumPy
that never touches PyTorch. Both libraries import these inside ``try: ...
except ImportError`` and do without. Every Ray actor, CLI run and test process
paid for them as it started (issue 22, start-up).

:func:`without` makes such modules unimportable while one library is imported
(in the importing thread only; modules already imported are left alone), so the
library takes its own fallback; afterwards they import as usual, for whoever
needs them. What a library then does without, for this process, is named where
:func:`without` is used.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class _Without:
    """A meta path finder that makes ``modules`` (and their submodules) unimportable
    in one thread."""

    def __init__(self, modules: tuple[str, ...]) -> None:
        self.modules = modules
        self.thread = threading.get_ident()

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.partition(".")[0] in self.modules and threading.get_ident() == self.thread:
            raise ModuleNotFoundError(f"No module named {name!r} (left out)", name=name)
        return None


@contextmanager
def without(modules: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    """Within the block (this thread), ``modules`` that are not imported yet cannot be
    imported; yields those left out."""
    skipped = tuple(m for m in modules if m not in sys.modules)
    finder = _Without(skipped)
    sys.meta_path.insert(0, finder)
    try:
        yield skipped
    finally:
        sys.meta_path.remove(finder)
