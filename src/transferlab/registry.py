"""One small registry type shared by every extension area (sources, strategies, metrics).

Names are lowercase and unique: they become cell keys and CLI words. Registering a name twice
is an error (as in peft's ``register_peft_method``), so two plugins cannot silently shadow
each other. Prefix factories (``hf:``) let one entry build many objects from a user path.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Generic, TypeVar

from transferlab.errors import unknown_name

T = TypeVar("T")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")


class Registry(Generic[T]):
    """A name -> factory map with explicit registration and helpful unknown-name errors."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}
        self._prefixes: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator registering a factory (a class or a function) under ``name``."""
        if not _NAME.match(name):
            raise ValueError(f"{self.kind} name {name!r} must be lowercase [a-z0-9_.-]")

        def add(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._factories:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._factories[name] = factory
            return factory

        return add

    def register_prefix(self, prefix: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator for a factory taking the text after ``prefix:`` (e.g. ``hf:<path>``)."""

        def add(factory: Callable[..., T]) -> Callable[..., T]:
            if prefix in self._prefixes:
                raise ValueError(f"{self.kind} prefix {prefix!r} is already registered")
            self._prefixes[prefix] = factory
            return factory

        return add

    def create(self, name: str, **params: object) -> T:
        """Build the object registered as ``name`` (or ``prefix:argument``) with ``params``."""
        return self.factory(name)(**params) if name in self._factories else self._prefixed(name, params)

    def factory(self, name: str) -> Callable[..., T]:
        """The factory registered as ``name``; unknown names list the known ones."""
        if name not in self._factories:
            raise unknown_name(self.kind, name, self.names())
        return self._factories[name]

    def _prefixed(self, name: str, params: dict[str, object]) -> T:
        prefix, sep, arg = name.partition(":")
        if not sep or prefix not in self._prefixes or not arg:
            raise unknown_name(self.kind, name, self.names())
        return self._prefixes[prefix](arg, **params)

    def is_known(self, name: str) -> bool:
        """True when ``name`` is registered or uses a registered prefix."""
        prefix, sep, arg = name.partition(":")
        return name in self._factories or bool(sep and arg and prefix in self._prefixes)

    def names(self) -> list[str]:
        """Registered names, then the prefix forms (``hf:<path>``)."""
        return sorted(self._factories) + [f"{p}:<path>" for p in sorted(self._prefixes)]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.is_known(name)
