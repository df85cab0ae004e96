"""Opening a store: :class:`StoreConfig` and :func:`open_store`.

The backends and their option classes live in the :data:`BACKENDS` registry
(:mod:`evokegraph.graph.backends`); this module only reads it, so nothing here
names a backend. The :class:`GraphStore` protocol lives in
:mod:`evokegraph.graph.protocol` (re-exported here for callers).
"""

from __future__ import annotations

import os
from typing import Any

from evokegraph.errors import UserInputError
from evokegraph.graph.backends import (
    BACKENDS,
    DEFAULT_BACKEND,
    DEFAULT_DB,
    backend_names,
    check_unique_fields,
    options_class,
)
from evokegraph.graph.protocol import GraphStore, is_write_query
from evokegraph.options import OptionField, option_fields

__all__ = [
    "DEFAULT_DB",
    "GraphStore",
    "StoreConfig",
    "is_write_query",
    "open_store",
    "store_option_fields",
]


def store_option_fields() -> dict[str, OptionField]:
    """Every backend's option fields by name (the default backend's first)."""
    check_unique_fields()
    out: dict[str, OptionField] = {}
    for b in backend_names():
        for f in option_fields(options_class(b)):
            out.setdefault(f.name, f)
    return out


class StoreConfig:
    """Where and how to open a store; built from CLI options or env vars.

    ``backend`` names a registered backend; the other keywords are the fields
    of the backends' option classes (``path``; ``uri``, ``user``, ...), all
    kept as plain attributes so a config copies as ``StoreConfig(**vars(cfg))``.
    """

    backend: str
    read_only: bool
    create: bool

    def __init__(
        self,
        backend: str = DEFAULT_BACKEND,
        *,
        read_only: bool = False,
        create: bool = False,
        **options: Any,
    ) -> None:
        fields = store_option_fields()
        unknown = sorted(set(options) - set(fields))
        if unknown:
            raise UserInputError(
                f"unknown store option(s) {', '.join(unknown)}; known: {', '.join(fields)}"
            )
        self.backend = backend
        self.read_only = read_only
        self.create = create
        for name, f in fields.items():
            setattr(self, name, options.get(name, f.default))

    def __getattr__(self, name: str) -> Any:  # typing only: option fields are set in __init__
        raise AttributeError(name)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if k != "password")
        return f"StoreConfig({inner})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StoreConfig) and vars(self) == vars(other)

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))

    def replace(self, **changes: Any) -> StoreConfig:
        return StoreConfig(**{**vars(self), **changes})

    def backend_options(self) -> Any:
        """The typed options of the configured backend (its registered class)."""
        if self.backend not in BACKENDS:
            raise UserInputError(
                f"unknown backend {self.backend!r}; use {' or '.join(backend_names())}"
            )
        cls = options_class(self.backend)
        values = {f.name: getattr(self, f.name) for f in option_fields(cls)}
        return cls.checked(values, f"backend {self.backend}")

    def location(self) -> str:
        """Where the store is: the file path or the server URI."""
        return str(self.backend_options().location())

    @classmethod
    def from_env(cls, **overrides: Any) -> StoreConfig:
        """From ``EVOKEGRAPH_BACKEND`` and each option's env var, then ``overrides``."""
        env = os.environ
        backend = env.get("EVOKEGRAPH_BACKEND", DEFAULT_BACKEND)
        values: dict[str, Any] = {"backend": backend if backend in BACKENDS else DEFAULT_BACKEND}
        for name, f in store_option_fields().items():
            if f.flag.envvar and f.flag.envvar in env:
                values[name] = f.convert(env[f.flag.envvar])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def open_store(config: StoreConfig | None = None, **overrides: Any) -> GraphStore:
    """Open (and with ``create=True`` initialise) the configured store."""
    cfg = (config or StoreConfig.from_env()).replace(**overrides)
    options = cfg.backend_options()
    return BACKENDS.create(cfg.backend, options=options, read_only=cfg.read_only, create=cfg.create)
