"""Optional dependencies, imported lazily with a message that says how to install them."""

from __future__ import annotations

import importlib
from types import ModuleType

from archsearch.errors import ArchSearchError

__all__ = ["require", "MissingDependencyError"]


class MissingDependencyError(ArchSearchError, ImportError):
    """An optional dependency is not installed."""


def require(module: str, extra: str, backend: str | None = None) -> ModuleType:
    """Import ``module`` or raise a one-line error naming the extra that installs it."""
    try:
        if backend and module.startswith("matplotlib"):
            import matplotlib

            matplotlib.use(backend)
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(
            f"{module.split('.')[0]} is needed for this: pip install 'archsearch[{extra}]'."
        ) from None
