"""Name -> factory registries for every pluggable part (spaces, strategies, datasets, ...).

A registry maps a snake-case name to a factory. ``register`` is a decorator, ``create``
builds by name with keyword arguments, ``names`` lists names matching a shell pattern.
"""

from __future__ import annotations

import fnmatch
import inspect
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from archsearch.errors import InvalidParameterError, unknown_name

T = TypeVar("T")

__all__ = ["Registry"]


class Registry(Generic[T]):
    """A named collection of factories of one kind of component.

    Example:
        >>> spaces: Registry[object] = Registry("search space", "archsearch.list_spaces()")
        >>> @spaces.register("toy")
        ... def toy(**kwargs): return ("toy", kwargs)
        >>> spaces.create("toy", size=3)
        ('toy', {'size': 3})
    """

    def __init__(self, kind: str, hint: str) -> None:
        self.kind = kind
        self.hint = hint
        self._factories: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Register ``factory`` under ``name``; re-registering a name replaces it."""

        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            self._factories[name] = factory
            return factory

        return decorator

    def get(self, name: str) -> Callable[..., T]:
        """The factory registered as ``name``; raises UnknownNameError with a suggestion."""
        try:
            return self._factories[name]
        except KeyError:
            raise unknown_name(self.kind, name, self._factories, self.hint) from None

    def create(self, name: str, **kwargs: Any) -> T:
        """Build the component registered as ``name``; unknown keyword arguments are refused."""
        factory = self.get(name)
        try:
            inspect.signature(factory).bind(**kwargs)
        except TypeError as err:
            raise InvalidParameterError(f"Cannot create {self.kind} {name!r}: {err}.") from None
        return factory(**kwargs)

    def names(self, pattern: str = "*") -> list[str]:
        """Sorted registered names matching the shell-style ``pattern``."""
        return sorted(n for n in self._factories if fnmatch.fnmatchcase(n, pattern))

    def __contains__(self, name: object) -> bool:
        return name in self._factories
