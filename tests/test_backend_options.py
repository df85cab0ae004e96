"""Declared backend options (issue 21): every extractor, miner and realizer has a
pydantic options class; ``settings()`` (what stage keys hash) derives from it and
gives the same dicts as the hand-written ones did, so stored keys stay valid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evokegraph.captioning.realizers import REALIZERS, VLMRealizer
from evokegraph.errors import UserInputError
from evokegraph.ingest.stages import EXTRACTORS, MINERS, load_backends
from evokegraph.options import BackendOptions, keyless
from evokegraph.registry import Registry

load_backends()


class _Engine:
    spec = "fake:model-1"


def test_offline_settings_are_the_dicts_keys_were_made_from() -> None:
    """The settings dicts before options were declared (stage keys of stored KBs).
    The version of the lead's offline backends is theirs to bump when their output
    changes (``caption_text.py``, ``lexical.py``); every other key is pinned."""
    ex = EXTRACTORS.create("caption-text", top_k="3", tagger="heuristic").settings()
    assert isinstance(ex.pop("version"), int)
    assert ex == {"norms": "brysbaert2014", "tagger": "wordnet-heuristic-1", "top_k": 3}
    lex = MINERS.create("lexical").settings()
    assert isinstance(lex.pop("version"), int)
    assert lex == {"per_distance": 3, "wordnet": "3.0"}
    assert REALIZERS.create("template").settings() == {
        "abstract_below": 3.0,
        "seed": 0,
        "version": 5,
    }
    templ = REALIZERS.create("template", seed=2, abstract_below="2.5")
    assert templ.settings() == {"abstract_below": 2.5, "seed": 2, "version": 5}


def test_model_backend_settings_are_unchanged() -> None:
    from evokegraph.ingest.models.backends import LLMMiner, VLMExtractor

    spec = _Engine.spec
    project = LLMMiner(engine=_Engine(), cache="off")  # type: ignore[arg-type]
    assert project.settings() == {"model": spec, "per_distance": 3, "prompt": 1}
    ref = LLMMiner(engine=_Engine(), cache="off", prompt="reference", seed=4)  # type: ignore[arg-type]
    assert ref.settings() == {
        "model": spec,
        "per_distance": 3,
        "prompt": "reference-1",
        "temperature": 1.0,
        "seed": 4,
    }
    vlm = VLMExtractor(engine=_Engine(), cache="off", top_k=4)  # type: ignore[arg-type]
    assert vlm.settings() == {"model": spec, "top_k": 4, "prompt": 1}
    real = VLMRealizer(_Engine())  # type: ignore[arg-type]
    assert real.settings() == {"model": spec, "temperature": 0.7, "top_p": 0.9}
    real_ref = VLMRealizer(_Engine(), prompt="reference", raw_prompt=True)  # type: ignore[arg-type]
    assert real_ref.settings() == {
        "model": spec,
        "temperature": 0.7,
        "top_p": 0.9,
        "prompt": "reference-1",
        "raw_prompt": True,
    }


def _registries() -> list[Registry[Any]]:
    return [EXTRACTORS, MINERS, REALIZERS]


def test_every_stage_backend_declares_its_options() -> None:
    for reg in _registries():
        for name in reg.names():
            if not reg._factories[name].__module__.startswith("evokegraph."):
                continue  # a test's fake, registered by another test module
            cls = reg.declared(name)
            assert cls is not None and issubclass(cls, BackendOptions), f"{reg.kind} {name}"
            assert set(cls.model_fields) <= reg.accepts(name)


def test_backends_keep_their_options_and_derive_settings_from_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every offline backend holds its declared options (``self.options``) and its
    settings() is ``options.settings(version, **derived)``: a field changed on the
    options object changes the key."""
    from types import SimpleNamespace

    import evokegraph.ingest.contextual as contextual

    # the acceptance model's digest is the lead's data (issue 20), not what this pins
    monkeypatch.setattr(contextual, "acceptance_model", lambda: SimpleNamespace(digest="d"))
    for registry, name in [
        (EXTRACTORS, "caption-text"),
        (MINERS, "lexical"),
        (MINERS, "contextual"),
        (REALIZERS, "template"),
    ]:
        backend = registry.create(name)
        cls = registry.declared(name)
        assert isinstance(backend.options, cls), name  # type: ignore[arg-type]
        field = cls.key_fields()[0]  # type: ignore[union-attr]
        other = backend.options.model_copy(update={field: 7})
        backend.options = other
        assert backend.settings()[field] == 7, (name, field)


@pytest.mark.parametrize(
    ("registry", "name", "kwargs"),
    [
        (EXTRACTORS, "caption-text", {"top_k": 4, "tagger": "heuristic"}),
        (MINERS, "lexical", {"per_distance": 2}),
        (MINERS, "contextual", {"per_distance": 4, "min_zipf": 3.5}),
        (REALIZERS, "template", {"seed": 1}),
    ],
)
def test_key_fields_are_keyed_as_declared(
    registry: Registry[Any], name: str, kwargs: dict[str, Any]
) -> None:
    """What settings() hashes of a declared field is the option's value (for the
    backends whose modules write settings() by hand too)."""
    cls = registry.declared(name)
    assert cls is not None
    opts = cls.model_validate(kwargs)
    settings = registry.create(name, **kwargs).settings()
    for key in cls.key_fields():  # type: ignore[attr-defined]
        assert settings[key] == getattr(opts, key), (name, key)
    assert "version" in settings


def test_settings_helper_keys_fields_then_derived_then_version() -> None:
    class Opts(BackendOptions):
        k: int = 2
        mode: str = keyless("auto", "resolved by the backend")

    o = Opts(mode="x")
    assert Opts.key_fields() == ["k"]
    assert o.settings(5, mode="resolved") == {"k": 2, "mode": "resolved", "version": 5}
    assert o.settings() == {"k": 2}
    rows = {r["option"]: r for r in Opts.describe()}
    assert rows["k"]["type"] == "int" and rows["mode"]["description"] == "resolved by the backend"


def test_bad_option_value_is_one_line_naming_it_and_the_allowed_ones() -> None:
    with pytest.raises(UserInputError) as err:
        MINERS.create("lexical", per_distance="many")
    text = str(err.value)
    assert "\n" not in text and "per_distance" in text and "(options: per_distance)" in text
    with pytest.raises(UserInputError, match="tagger"):
        EXTRACTORS.create("caption-text", tagger="nltk")
    with pytest.raises(UserInputError, match=r"realizer vlm option top_p"):
        REALIZERS.create("vlm", engine=_Engine(), top_p=2)


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from evokegraph.cli import main

    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_backends_command_lists_each_backend_with_its_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    code, out, _ = _cli(capsys, "backends", "--json")
    assert code == 0
    rows = json.loads(out)
    kinds = {(r["kind"], r["name"]) for r in rows}
    assert {("extractor", "caption-text"), ("miner", "contextual"), ("realizer", "vlm")} <= kinds
    assert {("store", "ladybug"), ("store", "neo4j")} <= kinds
    top_p = next(r for r in rows if (r["name"], r["option"]) == ("vlm", "top_p"))
    assert (top_p["type"], top_p["default"], top_p["description"]) == (
        "float",
        "0.9",
        "nucleus sampling mass",
    )
    assert not {r["option"] for r in rows} & {"spec", "engine", "progress", "engine_options"}
    code, out, _ = _cli(capsys, "backends", "--kind", "miner", "--json")
    assert code == 0 and {r["kind"] for r in json.loads(out)} == {"miner"}
    code, out, _ = _cli(capsys, "backends", "--kind", "miner")
    assert code == 0 and "per_distance" in out and "min_zipf" in out and "tagger" not in out
    code, _, err = _cli(capsys, "backends", "--kind", "nope")
    assert code != 0 and "unknown backend kind 'nope'" in err


def test_cli_o_options_are_validated_by_the_backend_class(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "k.kb")
    assert _cli(capsys, "--db", db, "init")[0] == 0
    code, _, err = _cli(capsys, "--db", db, "caption", "-o", "nope=1", "--no-progress")
    assert code != 0
    assert "realizer template has no option nope; its options: abstract_below, seed" in err
    code, _, err = _cli(capsys, "--db", db, "caption", "-o", "seed=x", "--no-progress")
    assert code != 0 and "realizer template option seed" in err
    code, _, err = _cli(
        capsys, "--db", db, "ingest", str(tmp_path), "-o", "per_distance=0", "--no-progress"
    )
    assert code != 0 and "miner contextual option per_distance" in err
    assert "greater than or equal to 1" in err
    code, _, err = _cli(capsys, "--db", db, "ingest", str(tmp_path), "-o", "x", "--no-progress")
    assert code != 0 and "give KEY=VALUE" in err


def test_api_caption_takes_realizer_options(tmp_path: Path) -> None:
    import evokegraph

    with evokegraph.open_kb(tmp_path / "k.kb", create=True) as kb:
        with pytest.raises(UserInputError, match="has no option top_k"):
            evokegraph.caption(kb, options={"top_k": 1})
        assert evokegraph.caption(kb, options={"abstract_below": 2.0}).captions == 0


def test_api_ingest_refuses_an_undeclared_backend_option(tmp_path: Path) -> None:
    import evokegraph.api as api

    with api.open_kb(tmp_path / "k.kb", create=True) as kb:
        with pytest.raises(UserInputError, match="miner lexical has no option top_k"):
            api.ingest(kb, tmp_path, miner="lexical", miner_options={"top_k": 1})
        assert kb.stats().images == 0
