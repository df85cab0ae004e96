"""Options generated from registries: backends -> StoreConfig and global CLI
options; TrainConfig -> `evokegraph train` and the argparse entry point."""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

import pytest
import typer

from evokegraph.cli import GLOBAL_OPTIONS, app
from evokegraph.errors import UserInputError
from evokegraph.graph.backends import BACKENDS, backend_names, options_class
from evokegraph.graph.store import StoreConfig, store_option_fields
from evokegraph.options import add_arguments, build, option_fields
from evokegraph.training.config import TrainConfig

ROOT = Path(__file__).resolve().parents[1]


def test_store_config_fields_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = StoreConfig()
    assert (cfg.backend, cfg.path, cfg.user, cfg.database, cfg.batch_size) == (
        "ladybug",
        "./evokegraph.kb",
        "neo4j",
        None,
        5000,
    )
    assert StoreConfig(**vars(cfg)) == cfg and cfg.replace(path="x.kb").path == "x.kb"
    monkeypatch.setenv("EVOKEGRAPH_BACKEND", "neo4j")
    monkeypatch.setenv("EVOKEGRAPH_NEO4J_URI", "bolt://h:1")
    monkeypatch.setenv("EVOKEGRAPH_NEO4J_DATABASE", "")
    env = StoreConfig.from_env(user="u")
    assert (env.backend, env.uri, env.user, env.database) == ("neo4j", "bolt://h:1", "u", None)
    assert env.location() == "bolt://h:1" and cfg.location() == "./evokegraph.kb"
    with pytest.raises(UserInputError, match="unknown store option"):
        StoreConfig(pth="x")


def test_every_backend_option_is_a_global_cli_option() -> None:
    root = typer.main.get_command(app)
    flags = {o for p in root.params for o in p.opts}
    for name in backend_names():
        assert BACKENDS.options(name) is options_class(name)
        for f in option_fields(options_class(name)):
            assert f.flag.flag in flags and f.flag.flag in GLOBAL_OPTIONS
    assert "--backend" in flags and len(store_option_fields()) == 6


def test_no_backend_name_compared_in_clis_or_the_factory() -> None:
    files = [ROOT / "evokegraph" / "cli.py", ROOT / "graph" / "store.py"]
    files += sorted(ROOT.glob("*/cli.py")) + sorted(ROOT.glob("*/*/cli.py"))
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                consts = [c.value for c in ast.walk(node) if isinstance(c, ast.Constant)]
                assert not {"ladybug", "neo4j"} & set(consts), f"{path}:{node.lineno}"


def test_train_options_have_one_source() -> None:
    cmd = typer.main.get_command(app).commands["train"]  # type: ignore[attr-defined]
    typer_flags = {p.name: (p.opts + p.secondary_opts) for p in cmd.params}
    fields = option_fields(TrainConfig)
    assert list(typer_flags) == [f.name for f in fields]
    for f in fields:
        assert typer_flags[f.name] == f.flag.flag.split("/"), f.name
    parser = argparse.ArgumentParser()
    add_arguments(parser, TrainConfig)
    args = ["--data", "d.csv", "--unlock-image", "--epochs", "3", "--device", "cpu"]
    cfg = build(TrainConfig, vars(parser.parse_args(args)))
    assert (cfg.data, cfg.lock_image, cfg.epochs, cfg.lr, cfg.device) == (
        "d.csv",
        False,
        3,
        1e-4,
        "cpu",
    )
    old_style = build(TrainConfig, vars(parser.parse_args(["--data", "d", "--no-lock-image"])))
    assert old_style.lock_image is False and old_style.pretrained is None


def test_stage_options_follow_the_registries() -> None:
    """Extractor/miner options come from each factory's signature, not a table of names."""
    import re

    from evokegraph.ingest.stages import EXTRACTORS, MINERS, load_backends

    load_backends()
    assert {"top_k", "tagger"} <= EXTRACTORS.accepts("caption-text")
    assert "spec" in EXTRACTORS.accepts("vlm") and "spec" in MINERS.accepts("llm")
    assert "spec" not in MINERS.accepts("contextual")
    assert "progress" in MINERS.accepts("contextual")
    src = (Path(__file__).resolve().parents[1] / "ingest" / "cli.py").read_text()
    names = "|".join(re.escape(n) for n in [*EXTRACTORS.names(), *MINERS.names()])
    assert not re.findall(rf'(==|!=|\bin)\s*\(?"({names})"', src)


def test_declared_backend_options_validate_convert_and_list() -> None:
    """A backend's declared options (BackendOptions): -o values are typed and checked
    through its class, and the registry lists its fields and defaults."""
    from evokegraph.errors import UserInputError
    from evokegraph.options import BackendOptions
    from evokegraph.registry import Registry

    class KOptions(BackendOptions):
        top_k: int = 5

    made: list[dict[str, object]] = []
    reg: Registry[object] = Registry("extractor")
    with reg.registered("k", lambda spec="", **kw: made.append({"spec": spec, **kw}), "", KOptions):
        reg.create("k", top_k="3", spec="openai:m")
        assert made == [{"spec": "openai:m", "top_k": 3}]
        assert reg.defaults("k") == {"top_k": 5} and "top_k" in reg.accepts("k")
        with pytest.raises(UserInputError, match="extractor k option top_k: .*integer"):
            reg.create("k", top_k="many")
    assert "k" not in reg  # the fake is gone with its fixture block


def test_argparse_bool_flags_in_every_form() -> None:
    """A bool option declared ``--x/--no-x`` (the negative argparse makes itself),
    ``--x/--other`` (a named negative) or ``--x`` alone: each parses both ways."""
    from evokegraph.options import BackendOptions, option

    class Flags(BackendOptions):
        cache: bool = option(True, "--cache/--no-cache", "Keep a cache.")
        amp: bool = option(True, "--amp/--fp32", "Mixed precision.")
        quiet: bool = option(False, "--quiet", "Say less.")

    parser = argparse.ArgumentParser()
    add_arguments(parser, Flags)  # raised 'conflicting option string: --no-cache'
    parse = lambda *a: build(Flags, vars(parser.parse_args(list(a))))  # noqa: E731
    assert parse() == Flags(cache=True, amp=True, quiet=False)
    assert parse("--no-cache", "--fp32", "--quiet") == Flags(cache=False, amp=False, quiet=True)
    assert parse("--no-cache", "--cache", "--no-amp", "--no-quiet") == Flags(
        cache=True, amp=False, quiet=False
    )


def test_stores_and_training_declare_pydantic_options() -> None:
    """Graph stores and TrainConfig declare their options as the stage backends do
    (BackendOptions): validated in one line naming the flag, paths given as Path kept
    as text, listed by `evokegraph backends --kind store` with flag and env var."""
    from evokegraph.api import backends
    from evokegraph.options import BackendOptions

    for name in backend_names():
        assert issubclass(options_class(name), BackendOptions)
        assert BACKENDS.declared(name) is options_class(name)
    assert issubclass(TrainConfig, BackendOptions)
    assert StoreConfig(path=Path("a/b.kb")).backend_options().path == "a/b.kb"
    with pytest.raises(UserInputError, match=r"^backend neo4j option --write-batch: .*1$"):
        StoreConfig(backend="neo4j", batch_size=0).backend_options()
    parser = argparse.ArgumentParser()
    add_arguments(parser, TrainConfig)
    with pytest.raises(UserInputError, match=r"^TrainConfig option --epochs: .*1$"):
        build(TrainConfig, vars(parser.parse_args(["--data", "d", "--epochs", "0"])))
    cfg = TrainConfig(data=Path("d.csv"), device="cpu")
    cfg.lock_image = False  # settable, as the dataclass was (bench/gpu_training.py)
    # the dict a checkpoint keeps: every field, as the dataclass's asdict gave it
    assert list(cfg.model_dump()) == [f.name for f in option_fields(TrainConfig)]
    assert cfg.model_dump()["data"] == "d.csv" and cfg.model_dump()["lock_image"] is False
    rows = {r["option"]: r for r in backends("store")}
    assert rows["path"]["description"].startswith("--db: ")
    assert "(env EVOKEGRAPH_DB)" in rows["path"]["description"] and rows["path"]["type"] == "path"
    assert rows["batch_size"]["description"].startswith("--write-batch: ")


def test_ray_options_are_ingests_engine_flags() -> None:
    """RayOptions declares `ingest --engine ray`'s flags (the one source, as the API's):
    the command's options are its flagged fields; values are checked in one line."""
    from evokegraph.ingest.config import RayOptions

    cmd = typer.main.get_command(app).commands["ingest"]  # type: ignore[attr-defined]
    flags = {p.name: p.opts for p in cmd.params}
    fields = option_fields(RayOptions)
    assert {f.name for f in fields} == {
        "shards", "address", "workers", "gpus_per_worker", "cpus_per_worker", "shard_size",
    }  # fmt: skip
    for f in fields:
        assert flags[f.name] == [f.flag.flag], f.name
    assert flags["engine"] == ["--engine"] and "--batch-size" in flags["batch_size"]
    opts = build(RayOptions, {"shards": "s", "address": "", "workers": 2, "shard_size": 8})
    assert (opts.shards, opts.address, opts.workers, opts.shard_size) == (Path("s"), None, 2, 8)
    with pytest.raises(UserInputError, match=r"^RayOptions option --cpus-per-worker: "):
        build(RayOptions, {"cpus_per_worker": 0})


def test_ingest_flags_are_ingests_own_flags_and_decide_its_config() -> None:
    """IngestFlags declares `ingest`'s own flags (the command's options are made of
    them) and decides the IngestConfig: the common backend flags and -o options to
    the backend that takes each, the models' endpoints and loader, paths as Paths."""
    from evokegraph.ingest.config import IngestConfig, IngestFlags
    from evokegraph.models.presets import ModelSpec

    cmd = typer.main.get_command(app).commands["ingest"]  # type: ignore[attr-defined]
    flags = {p.name: p for p in cmd.params}
    for f in option_fields(IngestFlags):
        assert flags[f.name].opts == [f.flag.flag.split("/")[0]], f.name
    limit = flags["limit"]
    assert limit.default is None and limit.type_descriptor.annotation is int and limit.min == 1
    assert flags["captions"].default is None and flags["batch_size"].default == 32
    given = build(IngestFlags, {"miner": "lexical", "top_k": 3, "captions": Path("c.csv")})
    config = given.config(
        {"per_distance": 2}, llm=ModelSpec("", "http://x/v1", None, "bfloat16", None, True)
    )
    assert config == IngestConfig(
        miner="lexical",
        extractor_options={"top_k": 3, "tagger": "auto"},
        miner_options={"per_distance": 2},
        captions=Path("c.csv"),
        llm=ModelSpec("", "http://x/v1", None, "bfloat16", None, True),
    )
    # the flags' defaults are IngestConfig's
    assert IngestFlags().config({}) == IngestConfig(
        extractor_options={"top_k": 5, "tagger": "auto"}, miner_options={"per_distance": 3}
    )
    with pytest.raises(UserInputError, match="taken by neither"):
        given.config({"no_such_option": 1})
