"""The multi-trial strategy protocol: ask for an architecture, tell it the result.

A strategy's state is a function of the trials told so far, so resuming a search is
``setup`` followed by ``tell`` of every finished trial in order: no pickled state.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from archsearch.spaces.base import SearchSpace
from archsearch.types import Architecture, FrozenTrial, Objective

__all__ = ["Strategy"]


class Strategy(ABC):
    """Base class of multi-trial strategies.

    Constructors only store their keyword arguments; :meth:`setup` validates them and
    binds the strategy to a space and objective.
    """

    name: str = ""

    def setup(self, space: SearchSpace, objective: Objective, seed: int) -> None:
        """Bind to a space and objective, validate parameters, reset state."""
        self.space = space
        self.objective = objective
        self.seed = seed

    @abstractmethod
    def ask(self, rng: np.random.Generator) -> Architecture:
        """Propose the next architecture to evaluate."""

    def tell(self, trial: FrozenTrial) -> None:
        """Learn from a finished trial (default: nothing to learn)."""

    def config(self) -> dict[str, Any]:
        """Settings that define this strategy (part of an experiment's identity)."""
        return {"name": self.name}
