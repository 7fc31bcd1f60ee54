"""Random search: the baseline every NAS method is compared against."""

from __future__ import annotations

import numpy as np

from archsearch.strategies.base import Strategy
from archsearch.types import Architecture

__all__ = ["RandomSearch"]


class RandomSearch(Strategy):
    """Sample architectures uniformly at random; works with any objective.

    Example:
        >>> import archsearch, numpy as np
        >>> space = archsearch.create_space("nb201")
        >>> strategy = archsearch.create_strategy("random")
        >>> strategy.setup(space, archsearch.Objective("val_accuracy"), seed=0)
        >>> strategy.ask(np.random.default_rng(0)).space
        'nb201'
    """

    name = "random"
    multi_objective = True  # reads no metric

    def ask(self, rng: np.random.Generator) -> Architecture:
        return self.space.sample(rng)
