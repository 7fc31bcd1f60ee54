"""Regularised (aging) evolution (Real et al., AAAI 2019)."""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from archsearch._utils.validation import check_int
from archsearch.spaces.base import SearchSpace
from archsearch.strategies.base import Strategy
from archsearch.types import Architecture, FrozenTrial, Objective

__all__ = ["RegularizedEvolution"]


class RegularizedEvolution(Strategy):
    """Aging evolution: tournament selection, one mutation, the oldest member dies.

    The first ``population_size`` architectures are random. Afterwards each ask draws
    ``sample_size`` members of the population at random, mutates the best of them, and
    each tell adds the child and removes the oldest member.

    Args:
        population_size: members kept alive.
        sample_size: tournament size, in [1, population_size].

    Example:
        >>> import archsearch
        >>> strategy = archsearch.create_strategy("evolution", population_size=10, sample_size=3)
        >>> strategy.config()["population_size"]
        10
    """

    name = "evolution"

    def __init__(self, population_size: int = 20, sample_size: int = 5) -> None:
        self.population_size = population_size
        self.sample_size = sample_size

    def setup(self, space: SearchSpace, objective: Objective, seed: int) -> None:
        owner = type(self).__name__
        check_int(owner, "population_size", self.population_size, 2)
        check_int(owner, "sample_size", self.sample_size, 1, self.population_size,
                  "population_size")
        super().setup(space, objective, seed)
        self.population: deque[tuple[Architecture, float]] = deque()

    def ask(self, rng: np.random.Generator) -> Architecture:
        if len(self.population) < self.population_size:
            return self.space.sample(rng)
        picks = rng.choice(len(self.population), size=self.sample_size, replace=False)
        parent = max((self.population[int(i)] for i in picks), key=lambda m: m[1])[0]
        return self.space.mutate(parent, rng)

    def tell(self, trial: FrozenTrial) -> None:
        score = self.objective.score(trial.values)
        if score is None:
            return  # failed trials do not join the population
        self.population.append((self.space.parse(trial.arch), score))
        if len(self.population) > self.population_size:
            self.population.popleft()

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "population_size": self.population_size,
                "sample_size": self.sample_size}
