"""Typed option classes that carry their own command-line flags.

A backend (graph store, miner, ...) declares its settings as a frozen
dataclass whose fields are made with :func:`option`: each field names its CLI
flag, help text and, optionally, an environment variable. The CLI builds its
options from these classes (see :func:`evokegraph.cli_common.typer_parameters`)
and :class:`~evokegraph.graph.store.StoreConfig` reads the environment from
them, so no command special-cases a backend's name.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evokegraph.errors import UserInputError


@dataclass(frozen=True)
class Flag:
    """How one option field appears on the command line."""

    flag: str
    help: str
    envvar: str | None = None
    cli_type: type | None = None  # the type typer parses, when it differs (Path for a path)
    min: int | None = None


def option(
    default: Any,
    flag: str,
    help: str,
    *,
    envvar: str | None = None,
    cli_type: type | None = None,
    min: int | None = None,
) -> Any:
    """A dataclass field with its CLI flag (``default`` None: the flag's empty value is None)."""
    return dataclasses.field(
        default=default, metadata={"cli": Flag(flag, help, envvar, cli_type, min)}
    )


@dataclass(frozen=True)
class OptionField:
    """One field of an option class, with its flag."""

    name: str
    default: Any
    flag: Flag

    @property
    def cli_type(self) -> type:
        if self.flag.cli_type is not None:
            return self.flag.cli_type
        return str if self.default is None else type(self.default)

    @property
    def cli_default(self) -> Any:
        """The default typer shows: '' for an option that is None when not given."""
        if self.default is None:
            return ""
        return self.cli_type(self.default) if self.flag.cli_type is not None else self.default

    def convert(self, value: Any) -> Any:
        """A value from the command line or the environment -> the field's value."""
        if self.default is None and value in ("", None):
            return None
        if isinstance(value, Path) or (isinstance(self.default, str) and value is not None):
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
            out.append(OptionField(f.name, f.default, flag))
    return out
