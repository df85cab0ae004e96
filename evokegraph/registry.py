"""Name -> factory registries for backends (extractors, miners, realizers, ...).

Modelled on open_clip's model registry: every kind of backend has one
:class:`Registry`; backends register a factory under a short name and users
select them by that name on the command line.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar, Generic, Protocol, TypeVar, runtime_checkable

from evokegraph.errors import RegistryError

T = TypeVar("T")


@runtime_checkable
class Declared(Protocol):
    """A declared options class (:class:`evokegraph.options.BackendOptions`)."""

    model_fields: ClassVar[dict[str, Any]]

    @classmethod
    def parse(cls, owner: str, values: Mapping[str, Any]) -> dict[str, Any]: ...

    @classmethod
    def defaults(cls) -> dict[str, Any]: ...


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
        (a :class:`evokegraph.options.BackendOptions`), if any."""
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

    def declare(self, name: str, options: type) -> None:
        """Give ``name`` (already registered) its declared options class, when it was
        registered without one: a module of option declarations can serve backends
        whose own modules do not name it (``evokegraph.ingest.options``)."""
        self._check(name)
        self._options.setdefault(name, options)

    def check_options(
        self, name: str, values: Mapping[str, object], ignore: frozenset[str] = frozenset()
    ) -> None:
        """Refuse, in one line naming them and the allowed ones, options ``name``
        does not declare (``caption -o KEY=VALUE``, ``miner_options=``); a backend
        that declares none is checked against its factory's keywords; keys in
        ``ignore`` (model spec, engine: no user options) are left to the factory."""
        self._check(name)
        declared = self.declared(name)
        allowed = sorted(declared.model_fields if declared else self.accepts(name) - ignore)
        unknown = sorted(k for k in values if k not in allowed and k not in ignore)
        if unknown:
            raise RegistryError(
                f"{self.kind} {name} has no option {', '.join(unknown)}; "
                f"its options: {', '.join(allowed) or 'none'} (see `evokegraph backends`)"
            )

    def options(self, name: str) -> type | None:
        """The option class registered with ``name`` (None when it has none)."""
        self._check(name)
        return self._options.get(name)

    def names(self) -> list[str]:
        return sorted(self._factories)

    def declared(self, name: str) -> Declared | None:
        """The declared options class of ``name`` (a ``BackendOptions``), if any."""
        cls = self.options(name)
        return cls if isinstance(cls, Declared) else None

    def accepts(self, name: str) -> frozenset[str]:
        """The keyword options ``name`` takes: its declared options' fields, with the
        factory's own keywords (model spec, engine) where it declares none or more."""
        self._check(name)
        params = inspect.signature(self._factories[name]).parameters.values()
        own = {
            p.name
            for p in params
            if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        }
        declared = self.declared(name)
        return frozenset(own | set(declared.model_fields if declared else ()))

    def defaults(self, name: str) -> dict[str, object]:
        """The keyword options of ``name`` with their defaults (``...``: required):
        its declared options where it declares them, else its factory's keywords."""
        self._check(name)
        declared = self.declared(name)
        if declared is not None:
            return declared.defaults()
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
        """Build ``name``; its declared options (if any) are validated and converted
        first, the other keywords (model spec, engine) go to the factory as given."""
        self._check(name)
        declared = self.declared(name)
        if declared is not None:
            mine = {k: v for k, v in kwargs.items() if k in declared.model_fields}
            kwargs = {**kwargs, **declared.parse(f"{self.kind} {name}", mine)}
        return self._factories[name](**kwargs)

    def __contains__(self, name: object) -> bool:
        return name in self._factories
