"""Word frequency on the Zipf scale (``wordfreq``, English).

Zipf 3 is about once per million words, 6 once per thousand. ``wordfreq`` is
an optional extra (``evokegraph[content]``): :func:`zipf_frequency` raises a
:class:`~evokegraph.errors.ModelError` naming the install when it is missing;
:func:`zipf_frequency_or_none` returns ``None`` instead, for callers that can
do without.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from evokegraph.errors import ModelError
from evokegraph.paths import CONTENT_INSTALL_HINT as INSTALL_HINT

LANGUAGE = "en"


def zipf_frequency_or_none(word: str) -> float | None:
    """Zipf frequency of ``word``; ``None`` when wordfreq is not installed."""
    try:
        from wordfreq import zipf_frequency as zf
    except ImportError:
        return None
    return float(zf(word, LANGUAGE))


def zipf_frequency(word: str) -> float:
    """Zipf frequency of ``word`` (0.0 for unknown words)."""
    z = zipf_frequency_or_none(word)
    if z is None:
        raise ModelError(f"word frequencies need wordfreq; {INSTALL_HINT}")
    return z


def frequency_version() -> str:
    """The installed wordfreq version ("-" when missing); part of cache keys."""
    try:
        return version("wordfreq")
    except PackageNotFoundError:
        return "-"
