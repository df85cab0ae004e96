"""WordNet, offline: Debian's ``wordnet-base`` files read through NLTK.

No download at run time: the dictionary comes from the Debian packages
``wordnet-base`` (data, index, exception files) and ``wordnet-sense-index``
(``index.sense``). NLTK's reader also wants a ``lexnames`` file, which Debian
does not ship; it is the fixed list of the 45 lexicographer files, written
here. Set ``EVOKEGRAPH_WORDNET_DIR`` to use another WordNet 3.0 ``dict`` dir.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

from evokegraph.errors import EvokeGraphError
from evokegraph.lexicons import cache
from evokegraph.lexicons.imports import without
from evokegraph.paths import cache_dir

DEBIAN_DIRS = (Path("/usr/share/wordnet"), Path("/usr/share/wordnet/dict"))
REQUIRED = ("index.noun", "data.noun", "index.verb", "data.verb", "index.adj", "data.adj")
LEXNAMES = [
    "adj.all",
    "adj.pert",
    "adv.all",
    "noun.Tops",
    "noun.act",
    "noun.animal",
    "noun.artifact",
    "noun.attribute",
    "noun.body",
    "noun.cognition",
    "noun.communication",
    "noun.event",
    "noun.feeling",
    "noun.food",
    "noun.group",
    "noun.location",
    "noun.motive",
    "noun.object",
    "noun.person",
    "noun.phenomenon",
    "noun.plant",
    "noun.possession",
    "noun.process",
    "noun.quantity",
    "noun.relation",
    "noun.shape",
    "noun.state",
    "noun.substance",
    "noun.time",
    "verb.body",
    "verb.change",
    "verb.cognition",
    "verb.communication",
    "verb.competition",
    "verb.consumption",
    "verb.contact",
    "verb.creation",
    "verb.emotion",
    "verb.motion",
    "verb.perception",
    "verb.possession",
    "verb.social",
    "verb.stative",
    "verb.weather",
    "adj.ppl",
]
_LEX_POS = {"adj": 3, "adv": 4, "noun": 1, "verb": 2}


class WordNetMissingError(EvokeGraphError):
    """WordNet's files are not installed."""


def find_source() -> Path:
    env = os.environ.get("EVOKEGRAPH_WORDNET_DIR")
    for cand in ([Path(env)] if env else []) + list(DEBIAN_DIRS):
        if all((cand / f).is_file() for f in REQUIRED):
            return cand
    raise WordNetMissingError(
        "WordNet not found; install the Debian packages wordnet-base and wordnet-sense-index "
        "(apt-get install wordnet-base wordnet-sense-index) or set EVOKEGRAPH_WORDNET_DIR"
    )


def lexnames_text() -> str:
    return "".join(
        f"{i:02d}\t{name}\t{_LEX_POS[name.split('.')[0]]}\n" for i, name in enumerate(LEXNAMES)
    )


def prepare(target: Path | None = None) -> Path:
    """An NLTK data dir holding ``corpora/wordnet``: copies of Debian's files
    plus ``lexnames``. Returns the NLTK data root.

    Copies (~30 MB, once): NLTK refuses to read through symlinks or hard
    links that could lead outside its data roots.
    """
    src = find_source()
    data_root = target or cache_dir() / "nltk_data"
    root = data_root / "corpora" / "wordnet"
    root.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        link = root / f.name
        if f.is_file() and not link.exists():
            shutil.copyfile(f, link)
    lex = root / "lexnames"
    if not lex.exists() or lex.read_text() != lexnames_text():
        lex.write_text(lexnames_text())
    return data_root


# The files NLTK's reader parses as it starts (index, satellites, exceptions) and
# cntlist.rev (lemma counts, _read_once): the sources of the index cache.
INDEX_SOURCES = (
    "index.noun",
    "index.verb",
    "index.adj",
    "index.adv",
    "data.adj",
    "adj.exc",
    "adv.exc",
    "noun.exc",
    "verb.exc",
    "cntlist.rev",
)
INDEX_VERSION = 1  # of what _build_index keeps: part of the cache's key
# NLTK's optional dependencies, never used here (collocation statistics, the
# scikit-learn classifier wrapper): ~1.5 s of each `import nltk` (_import_nltk)
NLTK_UNUSED_EXTRAS = ("scipy", "sklearn")


def _import_nltk() -> Any:
    """``import nltk`` without SciPy and scikit-learn (:mod:`evokegraph.lexicons.imports`);
    the WordNet reader uses neither. Left out of NLTK in this process when NLTK is
    imported here first: Fisher's exact test, ``SklearnClassifier``, the transition
    parser's SVM, SciPy's normal distribution in Gale-Church alignment (NLTK's own
    approximation instead)."""
    if "nltk" in sys.modules:
        return sys.modules["nltk"]
    with without(NLTK_UNUSED_EXTRAS):
        import nltk
    return nltk


@lru_cache(maxsize=1)
def wordnet() -> Any:
    """The shared NLTK WordNet reader (loaded once per process; its index read from
    the cache :func:`open_reader` keeps)."""
    nltk = _import_nltk()
    _deterministic_relations()
    data_root = prepare()
    if str(data_root) not in nltk.data.path:
        nltk.data.path.append(str(data_root))
    return open_reader(data_root / "corpora" / "wordnet")


def open_reader(root: Path, use_cache: bool = True) -> Any:
    """A WordNet reader on ``root`` (a ``dict`` folder holding ``lexnames``).

    NLTK's reader parses its index as it starts (~3 s: the lemma -> synset map
    from the index files, the adjective satellites from data.adj, the exception
    lists); with ``use_cache`` what it parses (and cntlist.rev's lemma counts) is
    read from ``cache_dir()/wordnet-index-KEY.marshal``, KEY the digest of those
    files and NLTK's version, and written there the first time (by NLTK's own
    parsing: the same values, in the same order, as without the cache)."""
    nltk = _import_nltk()
    key = cache.source_key(
        [root / name for name in INDEX_SOURCES],
        f"nltk={nltk.__version__}",
        f"index={INDEX_VERSION}",
    )
    path = cache.path_for("wordnet-index", key)
    index = cache.read(path, key) if use_cache else None
    if index is not None and _is_index(index):
        reader = _reader_class()(str(root), None, index)
    else:
        reader = _reader_class()(str(root), None, None)  # NLTK parses the files
        index = _build_index(reader, root)
        if use_cache:
            cache.write(path, key, index)
    _read_once(reader, index["counts"])
    return reader


def _build_index(reader: Any, root: Path) -> dict[str, Any]:
    """What a reader just built by NLTK parsed (before any look-up: a look-up of an
    unknown lemma adds it to NLTK's defaultdict), and cntlist.rev's counts."""
    return {
        "satellites": set(reader.satellite_offsets),
        "lemmas": dict(reader._lemma_pos_offset_map),
        "exceptions": {pos: m for pos, m in reader._exception_map.items() if pos != "s"},
        "counts": _lemma_counts(root),
    }


def _is_index(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("satellites"), set)
        and isinstance(value.get("lemmas"), dict)
        and isinstance(value.get("exceptions"), dict)
        and list(value["exceptions"]) == ["a", "r", "n", "v"]
        and isinstance(value.get("counts"), dict)
    )


def _lemma_counts(root: Path) -> dict[str, int]:
    """sense key -> tagged count, from cntlist.rev (the first line of a key wins)."""
    counts: dict[str, int] = {}
    for line in (root / "cntlist.rev").read_text("utf-8", errors="replace").splitlines():
        key, _, rest = line.partition(" ")
        counts.setdefault(key, int(rest.rsplit(" ", 1)[-1]))
    return counts


@lru_cache(maxsize=1)
def _reader_class() -> Any:
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class Reader(WordNetCorpusReader):
        def __init__(self, root: str, omw_reader: Any, index: dict[str, Any] | None) -> None:
            self._eg_index = index
            with warnings.catch_warnings():  # "multilingual functions are not available"
                warnings.simplefilter("ignore", UserWarning)
                super().__init__(root, omw_reader)
            del self._eg_index

        def open(self, file: str) -> Any:
            """The whole file as a string when it is ASCII (all of WordNet 3.0's are),
            so that offsets are the byte offsets NLTK seeks to: NLTK's own reader
            reads line by line in Python (~3x slower to start, and each synset
            read cold)."""
            with super().open(file) as stream:
                text = stream.read()
            return io.StringIO(text, newline="\n") if text.isascii() else super().open(file)

        def map_wn(self, version: str = "wordnet") -> None:
            """No map of WordNet 3.0 onto itself (NLTK builds it for its multilingual
            data, not used here, reading index.sense twice: ~2-5 s of each start)."""
            return None

        # NLTK's three parsing steps as it starts, each taken from the index cache
        # when it was given one (the same values, in the same order)
        def _scan_satellites(self) -> None:
            if self._eg_index is None:
                super()._scan_satellites()
            else:
                self.satellite_offsets = self._eg_index["satellites"]

        def _load_lemma_pos_offset_map(self) -> None:
            if self._eg_index is None:
                super()._load_lemma_pos_offset_map()
            else:
                self._lemma_pos_offset_map.update(self._eg_index["lemmas"])

        def _load_exception_map(self) -> None:
            if self._eg_index is None:
                super()._load_exception_map()
            else:
                self._exception_map.update(self._eg_index["exceptions"])
                self._exception_map["s"] = self._exception_map["a"]  # as NLTK: one dict

    return Reader


def _read_once(reader: Any, counts: dict[str, int]) -> None:
    """What NLTK reads from its files on every call, read once per process (the
    same values: a cold process mined ~3x slower than a warm one, each Ray actor
    anew). NLTK reads the version from data.adj's header on every Wu-Palmer
    similarity, a lemma's count by binary search in cntlist.rev on every call
    (``counts``: cntlist.rev read whole), and recomputes a synset's relations
    and hypernym distances each time."""
    from nltk.corpus.reader.wordnet import Synset

    version = reader.get_version()
    reader.get_version = lambda: version
    count_by_search = reader.lemma_count

    def lemma_count(lemma: Any) -> int:
        if lemma._lang != "eng" or not isinstance(lemma._key, str):
            return int(count_by_search(lemma))
        return counts.get(lemma._key, 0)

    reader.lemma_count = lemma_count
    if getattr(Synset._related, "memoized", False):
        return
    related, paths = Synset._related, Synset._shortest_hypernym_paths

    def _related(self: Any, relation_symbol: str, sort: bool = True) -> list[Any]:
        memo = self.__dict__.setdefault("_eg_related", {})
        if relation_symbol not in memo:
            memo[relation_symbol] = related(self, relation_symbol)
        return list(memo[relation_symbol])

    def _shortest_hypernym_paths(self: Any, simulate_root: bool) -> Any:
        memo = self.__dict__.setdefault("_eg_paths", {})  # read only by NLTK's callers
        if simulate_root not in memo:
            memo[simulate_root] = paths(self, simulate_root)
        return memo[simulate_root]

    _related.memoized = True  # type: ignore[attr-defined]
    Synset._related = _related
    Synset._shortest_hypernym_paths = _shortest_hypernym_paths


def _deterministic_relations() -> None:
    """NLTK 3.9+ keeps a synset's pointers in a set of (pos, offset) and lists
    relations (hyponyms, ...) in set order, which follows PYTHONHASHSEED; list
    them in WordNet file order instead, so associations are the same in every
    process (the Ray workers' and the driver's)."""
    from nltk.corpus.reader.wordnet import Synset

    def _related(self: Any, relation_symbol: str, sort: bool = True) -> list[Any]:
        get_synset = self._wordnet_corpus_reader.synset_from_pos_and_offset
        pointers = self._pointers.get(relation_symbol, ())
        return [get_synset(pos, offset) for pos, offset in sorted(pointers)]

    Synset._related = _related
