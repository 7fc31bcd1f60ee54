"""Search spaces: what can be built."""

from typing import Any

from archsearch.registry import Registry
from archsearch.spaces.base import SearchSpace
from archsearch.spaces.chain import ChainSpace
from archsearch.spaces.darts import GENOTYPES, DartsSpace
from archsearch.spaces.mnas import MnasSpace
from archsearch.spaces.nb201 import NB201Space

__all__ = ["SearchSpace", "NB201Space", "DartsSpace", "GENOTYPES", "ChainSpace", "MnasSpace",
           "SPACES", "create_space", "list_spaces"]

SPACES: Registry[SearchSpace] = Registry("search space", "archsearch.list_spaces()")
SPACES.register("nb201")(NB201Space)
SPACES.register("darts")(DartsSpace)
SPACES.register("chain")(ChainSpace)
SPACES.register("mnas")(MnasSpace)


def create_space(name: str, **kwargs: Any) -> SearchSpace:
    """Build a registered search space by name, e.g. ``create_space("nb201", channels=16)``."""
    return SPACES.create(name, **kwargs)


def list_spaces(pattern: str = "*") -> list[str]:
    """Registered search-space names matching a shell pattern."""
    return SPACES.names(pattern)
