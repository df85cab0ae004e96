"""Short stable digests of settings and text (bottom layer, stdlib only).

Every "has this been done with these settings?" key (ingest stage keys, the
captioner's key, the contextual miner's vocabulary cache key) is a prefix of a
sha256 hex digest made here, so they are computed one way everywhere. The
bytes hashed are exactly what the earlier per-stage copies hashed, so keys
stored in existing knowledge bases still match and runs still resume.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

KEY_CHARS = 16


def text_digest(text: str, n: int = KEY_CHARS) -> str:
    """The first ``n`` hex digits of sha256(``text`` as UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


def settings_digest(settings: Any, n: int = KEY_CHARS) -> str:
    """Digest of JSON-able ``settings``: keys sorted, anything else through ``str``."""
    return text_digest(json.dumps(settings, sort_keys=True, default=str), n)
