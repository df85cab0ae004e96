"""Typed option classes that carry their own command-line flags.

A backend (graph store, miner, ...) declares its settings as a frozen
dataclass whose fields are made with :func:`option`: each field names its CLI
flag, help text and, optionally, an environment variable. The CLI builds its
options from these classes (see :func:`evokegraph.cli_common.typer_parameters`)
and :class:`~evokegraph.graph.store.StoreConfig` reads the environment from
them, so no command special-cases a backend's name.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evokegraph.errors import UserInputError


@dataclass(frozen=True)
class Flag:
    """How one option field appears on the command line."""

    flag: str
    help: str
    envvar: str | None = None
    cli_type: type | None = None  # the type typer parses, when it differs (Path for a path)
    min: float | None = None


REQUIRED: Any = dataclasses.MISSING


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
    """A dataclass field with its CLI flag.

    ``default`` None: the flag's empty value is None. :data:`REQUIRED`: the
    flag must be given. ``default_factory``: computed when the flag is not
    given (``default`` is then ignored). A bool flag may name its negative
    form too: ``"--lock-image/--unlock-image"``.
    """
    meta = {"cli": Flag(flag, help, envvar, cli_type, min)}
    if default_factory is not None:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


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
        """The default typer shows: '' for an option that is None when not given,
        None for one computed when not given, ``...`` for a required one."""
        if self.required:
            return ...
        if self.has_factory:
            return None
        if self.default is None:
            return ""
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


def option_fields(cls: type) -> list[OptionField]:
    """The fields of an option class that have a CLI flag, in declaration order."""
    out = []
    for f in dataclasses.fields(cls):
        flag = f.metadata.get("cli")
        if isinstance(flag, Flag):
            has_factory = f.default_factory is not dataclasses.MISSING
            out.append(OptionField(f.name, f.default, flag, has_factory))
    return out


C = TypeVar("C")


def build(cls: type[C], values: Mapping[str, Any]) -> C:
    """An option class from CLI values (converted; a factory field left out when not given)."""
    fields = {f.name: f for f in option_fields(cls)}
    kwargs: dict[str, Any] = {}
    for name, value in values.items():
        f = fields[name]
        v = f.convert(value)
        if v is None and f.has_factory:
            continue
        kwargs[name] = v
    return cls(**kwargs)


def add_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
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
    """A stage backend's declared options (as llm's model ``Options`` classes): typed,
    defaulted, nothing else allowed. A backend registers its class with its factory
    (:meth:`evokegraph.registry.Registry.add`); ``-o KEY=VALUE`` values are
    validated by it, and ``evokegraph backends`` lists its fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def parse(cls, owner: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` checked and converted (``"3"`` -> 3); one line naming the bad one."""
        try:
            return cls.model_validate(dict(values)).model_dump(exclude_unset=True)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "options"
            known = ", ".join(cls.model_fields)
            raise UserInputError(
                f"{owner} option {where}: {err['msg']} (options: {known})"
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
        """One row per option: name, type, default, description (``evokegraph backends``)."""
        return [
            {
                "option": k,
                "type": _type_name(f.annotation),
                "default": "(required)" if f.is_required() else repr(f.default),
                "description": f.description or "",
            }
            for k, f in cls.model_fields.items()
        ]


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
    declared :class:`BackendOptions`, or a flag-carrying option class (the graph
    stores': the description names the flag), or else its factory's keywords."""
    if isinstance(cls, type) and issubclass(cls, BackendOptions):
        return cls.describe()
    if isinstance(cls, type) and dataclasses.is_dataclass(cls):
        return [
            {
                "option": f.name,
                "type": f.cli_type.__name__ if f.cli_type is not Path else "path",
                "default": "(required)" if f.required else repr(f.default),
                "description": f"{f.flag.flag}: {f.flag.help}"
                + (f" [env {f.flag.envvar}]" if f.flag.envvar else ""),
            }
            for f in option_fields(cls)
        ]
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
