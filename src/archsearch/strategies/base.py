"""The multi-trial strategy protocol: ask for an architecture, tell it the result.

A strategy's state is a function of the trials told so far, so resuming a search is
``setup`` followed by ``tell`` of every finished trial in order: no pickled state.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from archsearch.errors import InvalidParameterError
from archsearch.objectives import MultiObjective
from archsearch.spaces.base import SearchSpace
from archsearch.types import Architecture, FrozenTrial, Objective

__all__ = ["Strategy"]


class Strategy(ABC):
    """Base class of multi-trial strategies.

    Constructors only store their keyword arguments; :meth:`setup` validates them and
    binds the strategy to a space and objective.

    A strategy that only needs :meth:`Objective.score` sets ``multi_objective = False`` (the
    default) and is refused a :class:`~archsearch.objectives.MultiObjective` at setup; one
    that reads every metric (or none) sets it True.
    """

    name: str = ""
    multi_objective: bool = False

    def bind(self, evaluator: Any) -> None:
        """See the experiment's evaluator before :meth:`setup` (default: nothing to see).

        A strategy that needs the task (to score untrained networks on its data) takes it
        from here when it was not given one.
        """

    def setup(self, space: SearchSpace, objective: Objective, seed: int) -> None:
        """Bind to a space and objective, validate parameters, reset state."""
        if isinstance(objective, MultiObjective) and not self.multi_objective:
            raise InvalidParameterError(
                f"{type(self).__name__} needs a single objective; use 'optuna-nsga2', "
                f"'optuna-tpe' or 'random' for the MultiObjective over {list(objective.names)}, "
                "or give this strategy one metric (or a MnasReward).")
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
