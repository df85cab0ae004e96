"""Name -> factory registries for backends (extractors, miners, realizers, ...).

Modelled on open_clip's model registry: every kind of backend has one
:class:`Registry`; backends register a factory under a short name and users
select them by that name on the command line.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from evokegraph.errors import RegistryError

T = TypeVar("T")


class Registry(Generic[T]):
    """A named collection of factories producing objects of one protocol."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}
        self._help: dict[str, str] = {}
        self._options: dict[str, type] = {}

    def register(
        self, name: str, help: str = "", options: type | None = None
    ) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def deco(factory: Callable[..., T]) -> Callable[..., T]:
            self.add(name, factory, help, options)
            return factory

        return deco

    def add(
        self, name: str, factory: Callable[..., T], help: str = "", options: type | None = None
    ) -> None:
        """Register ``factory`` under ``name``; ``options`` is its typed option class
        (a dataclass made with :func:`evokegraph.options.option` fields), if any."""
        self._factories[name] = factory
        doc = (factory.__doc__ or "").strip().splitlines()
        self._help[name] = help or (doc[0] if doc else "")
        if options is not None:
            self._options[name] = options

    def remove(self, name: str) -> None:
        """Forget ``name`` (a test's fake backend, once the test is done)."""
        for table in (self._factories, self._help, self._options):
            table.pop(name, None)

    @contextmanager
    def registered(
        self, name: str, factory: Callable[..., T], help: str = "", options: type | None = None
    ) -> Iterator[None]:
        """``name`` registered for the ``with`` block only (fakes in test fixtures);
        a backend already registered under that name is put back after."""
        before = (self._factories.get(name), self._help.get(name), self._options.get(name))
        self.add(name, factory, help, options)
        try:
            yield
        finally:
            self.remove(name)
            if before[0] is not None:
                self.add(name, before[0], before[1] or "", before[2])

    def options(self, name: str) -> type | None:
        """The option class registered with ``name`` (None when it has none)."""
        self._check(name)
        return self._options.get(name)

    def names(self) -> list[str]:
        return sorted(self._factories)

    def accepts(self, name: str) -> frozenset[str]:
        """The keyword options the factory registered as ``name`` takes (from
        its signature), so that a CLI passes each backend only its own options
        without a table of backend names."""
        self._check(name)
        params = inspect.signature(self._factories[name]).parameters.values()
        return frozenset(
            p.name
            for p in params
            if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        )

    def defaults(self, name: str) -> dict[str, object]:
        """The keyword options of ``name`` with their defaults (``...``: required)."""
        self._check(name)
        params = inspect.signature(self._factories[name]).parameters.values()
        return {
            p.name: ... if p.default is inspect.Parameter.empty else p.default
            for p in params
            if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        }

    def describe(self) -> dict[str, str]:
        return {n: self._help.get(n, "") for n in self.names()}

    def _check(self, name: str) -> None:
        if name not in self._factories:
            known = ", ".join(self.names()) or "(none)"
            raise RegistryError(f"unknown {self.kind} {name!r}; known: {known}")

    def create(self, name: str, /, **kwargs: object) -> T:
        self._check(name)
        return self._factories[name](**kwargs)

    def __contains__(self, name: object) -> bool:
        return name in self._factories
