"""lemminflect's lemma look-up table, read from the lexicon cache.

lemminflect (Jascob, MIT) parses its table (``lemma_lu.csv.gz``, ~70k words, line
by line from gzip) the first time a lemma is asked for: ~0.4 s of each
extractor's start. :func:`prepare_lemminflect` gives its lemmatizer (a
singleton, which loads the table lazily into ``lemma_dict``) the table from
:mod:`evokegraph.lexicons.cache` instead, parsed by lemminflect's own codec
the first time: the same dict, in the same order.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

from evokegraph.lexicons import cache

TABLE_VERSION = 1  # of what is kept (the codec's dict as it is): part of the key


def _is_table(value: Any) -> bool:
    return isinstance(value, dict) and all(
        type(k) is str and type(v) is dict for k, v in value.items()
    )


def lemma_table(path: Path, use_cache: bool = True) -> dict[str, dict[str, tuple[str, ...]]]:
    """word -> {upos: lemma spellings}, lemminflect's table at ``path``."""
    from lemminflect.codecs.LemmaLUCodec import LemmaLUCodec

    def parse() -> dict[str, dict[str, tuple[str, ...]]]:
        return LemmaLUCodec.load(str(path))

    if not use_cache:
        return parse()
    key = cache.source_key(
        [path], f"lemminflect={version('lemminflect')}", f"table={TABLE_VERSION}"
    )
    return cache.cached("lemminflect-lemmas", key, parse, _is_table)


@lru_cache(maxsize=1)
def prepare_lemminflect() -> None:
    """Give lemminflect's lemmatizer its table from the cache (once per process;
    nothing when it has loaded its own already)."""
    from lemminflect.core.Lemmatizer import Lemmatizer

    lemmatizer = Lemmatizer()  # the singleton getLemma / getAllLemmas use
    if not hasattr(lemmatizer, "lemma_dict"):  # what its lazy load checks
        lemmatizer.lemma_dict = lemma_table(Path(lemmatizer.lemma_lu_fn))
