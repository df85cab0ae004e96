"""Declared options: one pydantic class per backend, stage or command.

Every option class is a :class:`BackendOptions` (typed, defaulted, nothing else
allowed, as simonw/llm's model ``Options``). A stage backend's (extractor,
miner, realizer) fields are its ``-o KEY=VALUE`` options and what its
``settings()`` derives from. A field made with :func:`option` carries its own
CLI flag, help text and, optionally, an environment variable: the graph stores'
classes (``graph/backend_options.py``) and :class:`TrainConfig` declare theirs so;
the CLI builds its options from them (:func:`evokegraph.cli_common.typer_parameters`,
:func:`add_arguments` for argparse entry points) and
:class:`~evokegraph.graph.store.StoreConfig` reads the environment from them, so
no command special-cases a backend's name.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic.config import JsonDict

from evokegraph.errors import UserInputError


@dataclass(frozen=True)
class Flag:
    """How one option field appears on the command line."""

    flag: str
    help: str
    envvar: str | None = None
    cli_type: type | None = None  # the type typer parses, when it differs (Path for a path)
    min: float | None = None


# a required option (no default): the flag must be given
REQUIRED: Any = dataclasses.MISSING


def _path_text(value: Any) -> Any:
    return os.fspath(value) if isinstance(value, os.PathLike) else value


# a path option: kept as text, given as text or a Path
PathText = Annotated[str, BeforeValidator(_path_text)]


def option(
    default: Any,
    flag: str,
    help: str,
    *,
    envvar: str | None = None,
    cli_type: type | None = None,
    min: float | None = None,
    default_factory: Callable[[], Any] | None = None,
) -> Any:
    """A declared option field with its CLI flag (a pydantic ``Field``).

    ``default`` None: the flag's empty value is None. :data:`REQUIRED`: the
    flag must be given. ``default_factory``: computed when the flag is not
    given (``default`` is then ignored). A bool flag may name its negative
    form too: ``"--lock-image/--unlock-image"``. ``min`` bounds the value
    (on the command line and in the class). ``cli_type=Path``: typer parses a
    path (declare the field :data:`PathText`); ``int``/``float``: a number whose
    field is None when the flag is not given.
    """
    kind = {Path: "path", int: "int", float: "float"}.get(cli_type) if cli_type else None
    extra: JsonDict = {"cli": {"flag": flag, "envvar": envvar, "type": kind}}
    if default_factory is not None:
        return Field(
            default_factory=default_factory, description=help, ge=min, json_schema_extra=extra
        )
    value = ... if default is REQUIRED else default
    return Field(value, description=help, ge=min, json_schema_extra=extra)


@dataclass(frozen=True)
class OptionField:
    """One field of an option class, with its flag."""

    name: str
    default: Any
    flag: Flag
    has_factory: bool = False

    @property
    def required(self) -> bool:
        return self.default is dataclasses.MISSING and not self.has_factory

    @property
    def cli_type(self) -> type:
        if self.flag.cli_type is not None:
            return self.flag.cli_type
        if self.default is None or self.default is dataclasses.MISSING:
            return str
        return type(self.default)

    @property
    def cli_default(self) -> Any:
        """The default typer shows: '' for a text option that is None when not given,
        None for one computed when not given or of another type (a path, a number),
        ``...`` for a required one."""
        if self.required:
            return ...
        if self.has_factory:
            return None
        if self.default is None:
            return "" if self.flag.cli_type is None else None
        return self.cli_type(self.default) if self.flag.cli_type is not None else self.default

    def convert(self, value: Any) -> Any:
        """A value from the command line or the environment -> the field's value."""
        if (self.default is None or self.has_factory) and value in ("", None):
            return None
        if isinstance(value, Path) or (
            value is not None and (isinstance(self.default, str) or self.flag.cli_type is Path)
        ):
            return str(value)
        if isinstance(value, str) and isinstance(self.default, bool):
            return value.strip().lower() in ("1", "true", "yes", "on")
        if isinstance(value, str) and isinstance(self.default, int | float):
            try:
                return type(self.default)(value)
            except ValueError:
                raise UserInputError(
                    f"{self.flag.envvar or self.flag.flag}={value!r} is not a number; "
                    f"give a {type(self.default).__name__}"
                ) from None
        return value


# a field's cli_type by name, as option() keeps it (the field's JSON schema extra)
_CLI_TYPES: dict[str, type] = {"path": Path, "int": int, "float": float}


def option_fields(cls: type[BaseModel]) -> list[OptionField]:
    """The fields of an option class that have a CLI flag, in declaration order."""
    out = []
    for name, f in cls.model_fields.items():
        cli = f.json_schema_extra.get("cli") if isinstance(f.json_schema_extra, dict) else None
        if not isinstance(cli, dict):
            continue
        low = [m.ge for m in f.metadata if getattr(m, "ge", None) is not None]
        flag = Flag(
            str(cli["flag"]),
            f.description or "",
            cli.get("envvar"),  # type: ignore[arg-type]
            _CLI_TYPES.get(str(cli.get("type"))),
            low[0] if low else None,
        )
        default = dataclasses.MISSING if f.is_required() else f.default
        out.append(OptionField(name, default, flag, f.default_factory is not None))
    return out


C = TypeVar("C", bound="BackendOptions")


def build(cls: type[C], values: Mapping[str, Any]) -> C:
    """An option class from CLI values (converted; a factory field left out when not
    given); a value the class refuses is one line naming the option."""
    fields = {f.name: f for f in option_fields(cls)}
    kwargs: dict[str, Any] = {}
    for name, value in values.items():
        f = fields[name]
        v = f.convert(value)
        if v is None and f.has_factory:
            continue
        kwargs[name] = v
    return cls.checked(kwargs)


def add_arguments(parser: argparse.ArgumentParser, cls: type[BaseModel]) -> None:
    """The same options on an argparse parser (for entry points such as torchrun's):
    a bool gets ``--x/--no-x`` and its named negative form, if any."""
    for f in option_fields(cls):
        names = f.flag.flag.split("/")
        if f.cli_type is bool:
            parser.add_argument(
                names[0],
                dest=f.name,
                action=argparse.BooleanOptionalAction,
                default=f.default,
                help=f.flag.help,
            )
            # BooleanOptionalAction adds --no-x itself: a declared --no-x is that one
            for neg in names[1:]:
                if neg != "--no-" + names[0].removeprefix("--"):
                    parser.add_argument(
                        neg, dest=f.name, action="store_false", help=argparse.SUPPRESS
                    )
        elif f.required:
            parser.add_argument(names[0], dest=f.name, required=True, help=f.flag.help)
        else:
            default = None if f.has_factory else f.default
            parser.add_argument(
                names[0], dest=f.name, default=default, help=f.flag.help, type=_parser_type(f)
            )


def _parser_type(f: OptionField) -> Callable[[str], Any]:
    base = f.cli_type
    return base if base in (int, float) else str


class BackendOptions(BaseModel):
    """Declared options (as llm's model ``Options`` classes): typed, defaulted, nothing
    else allowed. A backend registers its class with its factory
    (:meth:`evokegraph.registry.Registry.add`); ``-o KEY=VALUE`` values are
    validated by it, and ``evokegraph backends`` lists its fields (a field made
    with :func:`option` with its CLI flag)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def parse(cls, owner: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` checked and converted (``"3"`` -> 3); one line naming the bad one."""
        return cls.checked(values, owner).model_dump(exclude_unset=True)

    @classmethod
    def checked(cls: type[C], values: Mapping[str, Any], owner: str = "") -> C:
        """The options from ``values``; a value the class refuses is one line naming
        the option (its flag, where it has one) and the known ones."""
        try:
            return cls.model_validate(dict(values))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "options"
            flags = {f.name: f.flag.flag.split("/")[0] for f in option_fields(cls)}
            where = flags.get(where, where)
            known = f" (options: {', '.join(flags.get(k, k) for k in cls.model_fields)})"
            if flags and err["type"] != "extra_forbidden":
                known = ""  # a command's flags: its --help lists them
            raise UserInputError(
                f"{owner or cls.__name__} option {where}: {err['msg']}{known}"
            ) from None

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {k: f.default for k, f in cls.model_fields.items()}

    @classmethod
    def key_fields(cls) -> list[str]:
        """The fields hashed into the stage key as they are (not marked :func:`keyless`)."""
        return [k for k, f in cls.model_fields.items() if _in_key(f.json_schema_extra)]

    def settings(self, version: int | None = None, **derived: Any) -> dict[str, Any]:
        """A backend's ``settings()`` (what its stage key hashes): the key fields'
        values, then what the backend derives from its options or its data (a
        resolved tagger, a vocabulary key: these win over a field of the same name),
        then its ``version`` (bumped when its output changes; None: the backend
        keys no version)."""
        out = {k: getattr(self, k) for k in self.key_fields()} | derived
        return out if version is None else out | {"version": version}

    @classmethod
    def describe(cls) -> list[dict[str, str]]:
        """One row per option: name, type, default, description (``evokegraph backends``);
        a field with a CLI flag names it (and its env var) before its help."""
        flags = {f.name: f for f in option_fields(cls)}
        rows = []
        for k, f in cls.model_fields.items():
            text, flag = f.description or "", flags.get(k)
            if flag is not None:
                env = (
                    f" (env {flag.flag.envvar})" if flag.flag.envvar else ""
                )  # no [..]: rich markup
                text = f"{flag.flag.flag}: {text}{env}"
            default = "(required)" if f.is_required() else repr(f.default)
            rows.append(
                {
                    "option": k,
                    "type": "path"
                    if flag and flag.flag.cli_type is Path
                    else _type_name(f.annotation),
                    "default": "(computed)" if f.default_factory is not None else default,
                    "description": text,
                }
            )
        return rows


# factory keywords that are no user option: the model spec, engine and loader settings
# come with --vlm/--llm (a ModelSpec), progress with the run context, never with -o
FACTORY_KEYWORDS = frozenset(
    {"engine", "spec", "kw", "engine_options", "progress", "cache", "policy"}
)


def keyless(default: Any, description: str, **kw: Any) -> Any:
    """A declared option that is not hashed into the stage key as given: the backend
    keys what it derives from it (``tagger="auto"`` -> the tagger it resolved to; a
    vocabulary key from ``min_zipf``), or only in some modes."""
    return Field(default, description=description, json_schema_extra={"stage_key": False}, **kw)


def _in_key(extra: Any) -> bool:
    return not (isinstance(extra, dict) and extra.get("stage_key") is False)


def _type_name(annotation: Any) -> str:
    """``int``; ``auto|spacy|heuristic`` for a Literal; ``float | None``."""
    if typing.get_origin(annotation) is Literal:
        return "|".join(str(a) for a in typing.get_args(annotation))
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "").replace("NoneType", "None")


def option_rows(cls: type | None, factory_defaults: Mapping[str, Any]) -> list[dict[str, str]]:
    """The options of one backend as rows (option, type, default, description): its
    declared :class:`BackendOptions` (a graph store's name their flags), or else its
    factory's keywords."""
    if isinstance(cls, type) and issubclass(cls, BackendOptions):
        return cls.describe()
    return [
        {
            "option": k,
            "type": "",
            "default": "(required)" if v is ... else repr(v),
            "description": "(not declared: a factory keyword)",
        }
        for k, v in factory_defaults.items()
    ]


def parse_option(text: str) -> tuple[str, Any]:
    """``key=value`` (``-o``) -> (key, value): the value as JSON where it parses
    (numbers, true, lists), else the string; the backend's options class converts."""
    import json

    key, eq, value = text.partition("=")
    if not eq or not key.strip():
        raise UserInputError(f"-o {text!r}: give KEY=VALUE, e.g. -o top_k=3")
    try:
        return key.strip(), json.loads(value)
    except ValueError:
        return key.strip(), value


def parse_options(texts: Sequence[str]) -> dict[str, Any]:
    """Every ``-o key=value`` given, by key (a later one wins)."""
    return dict(parse_option(t) for t in texts)
