"""Offline backends: tagger, caption-text extractor, lexical miner, WordNet setup."""

from __future__ import annotations

from pathlib import Path
from statistics import mean

import pytest

from evokegraph.ingest.caption_text import CaptionTextExtractor
from evokegraph.ingest.lexical import LexicalMiner
from evokegraph.ingest.sample import CAPTIONS
from evokegraph.ingest.stages import Extraction, make_extractor, make_miner
from evokegraph.ingest.text import content_words
from evokegraph.lexicons import wordnet as wordnet_data
from evokegraph.lexicons.concreteness import concreteness, rating
from evokegraph.runs import Failed
from evokegraph.weights import finalize


def test_tagger_on_literal_captions() -> None:
    got = [(t.lemma, t.pos) for t in content_words("Two cats sleeping on a red couch")]
    assert got == [("cat", "NOUN"), ("sleep", "VERB"), ("red", "ADJ"), ("couch", "NOUN")]
    got = [(t.lemma, t.pos) for t in content_words("The old trees stand in a foggy field")]
    assert got == [
        ("old", "ADJ"),
        ("tree", "NOUN"),
        ("stand", "VERB"),
        ("foggy", "ADJ"),
        ("field", "NOUN"),
    ]


def test_concreteness_norms() -> None:
    assert rating("dog") == pytest.approx(4.85)
    assert rating("loyalty") == pytest.approx(1.57)
    assert rating("Trees") == rating("tree")  # via the WordNet lemma
    assert rating("qwzxv") is None and concreteness("qwzxv") == 2.5


def test_caption_text_ranks_by_concreteness() -> None:
    ex = CaptionTextExtractor(top_k=3).extract_one(
        ["A dog running on a sandy beach", "a dog by the sea"]
    )
    assert isinstance(ex, Extraction)
    assert [e.concept for e in ex.elements] == ["dog", "beach", "sea"]
    assert [e.rank for e in ex.elements] == [0, 1, 2]
    assert ex.elements[0].saliency > ex.elements[2].saliency  # mentioned by both captions
    assert "sandy beach" in ex.description


def test_caption_text_without_caption_is_an_explained_failure() -> None:
    (ans,) = make_extractor("caption-text").extract([_item([])])
    assert (
        isinstance(ans, Failed)
        and ans.reason.startswith("no caption; give captions")
        and "--vlm" in ans.reason
    )
    (ans,) = make_extractor("caption-text").extract([_item(["the of and"])])
    assert isinstance(ans, Failed) and "no content words" in ans.reason


def _item(captions: list[str]):
    from evokegraph.ingest.stages import ImageItem
    from evokegraph.records import ImageRecord

    return ImageItem(record=ImageRecord(id="0" * 64, captions=captions))


def mine(captions: list[str]):
    ex = CaptionTextExtractor().extract_one(captions)
    assert isinstance(ex, Extraction)
    return ex, LexicalMiner().mine_one(ex.elements, ex.description)


def by(evs, element: str) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {d: [] for d in range(1, 6)}
    for e in evs:
        if e.element == element:
            out[e.distance].append(e.concept)
    return out


def test_lexical_distances_and_rules() -> None:
    ex, evs = mine(["a dog pulling a sled through the snow"])
    dog = by(evs, "dog")
    assert all(dog[d] for d in range(1, 6)), dog
    assert all(len(v) <= 3 for v in dog.values())
    words = [w for v in dog.values() for w in v]
    assert "dog" not in words and len(words) == len(set(words))  # never itself, no repeats
    # broader categories: the dog sense's hypernyms (canine, domestic animal) and theirs
    assert set(dog[2]) <= {
        "canine",
        "canid",
        "domestic animal",
        "domesticated animal",
        "carnivore",
        "animal",
        "animate being",
        "beast",
        "brute",
        "creature",
        "fauna",
    }, dog[2]
    elements = {e.concept for e in ex.elements}
    assert not elements & {e.concept for e in evs}  # never another element of the image
    assert all(e.weight is None for e in evs)  # miners rank; weights.finalize weighs
    for e in finalize(evs):
        assert 0 < e.weight <= 1


def test_same_word_different_context_different_associations() -> None:
    _, beach = mine(["a dog running on a sandy beach by the sea"])
    _, snow = mine(["a dog pulling a sled through the snow"])
    assert by(beach, "dog") != by(snow, "dog")


def test_deterministic() -> None:
    assert (
        mine(["a cup of coffee on a wooden table"])[1]
        == mine(["a cup of coffee on a wooden table"])[1]
    )


@pytest.mark.slow  # every sample caption through WordNet (~25 s loaded); one scene stays fast (test_lexical_distances_and_rules)
def test_concreteness_falls_with_distance_on_the_sample_captions() -> None:
    miner = make_miner("lexical")
    extractor = make_extractor("caption-text")
    per: dict[int, list[float]] = {d: [] for d in range(1, 6)}
    for captions in CAPTIONS.values():
        ex = extractor.extract([_item(captions)])[0]
        assert isinstance(ex, Extraction)
        for ev in LexicalMiner.mine_one(miner, ex.elements, ex.description):
            per[ev.distance].append(concreteness(ev.concept))
    means = [mean(per[d]) for d in range(1, 6)]
    assert means == sorted(means, reverse=True), means
    assert means[0] - means[4] > 0.8, means


def test_missing_wordnet_names_the_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wordnet_data, "DEBIAN_DIRS", (tmp_path / "none",))
    monkeypatch.delenv("EVOKEGRAPH_WORDNET_DIR", raising=False)
    with pytest.raises(
        wordnet_data.WordNetMissingError,
        match="install the Debian packages wordnet-base and wordnet-sense-index",
    ):
        wordnet_data.find_source()


def test_lexnames_has_the_45_lexicographer_files() -> None:
    lines = wordnet_data.lexnames_text().splitlines()
    assert len(lines) == 45
    assert (
        lines[0] == "00\tadj.all\t3"
        and lines[3] == "03\tnoun.Tops\t1"
        and lines[44] == "44\tadj.ppl\t3"
    )
