"""Optuna's samplers over a search space known in advance (imported only once optuna is).

Optuna infers a sampler's joint (relative) search space from the distributions of the
study's completed trials, a pass over every trial and parameter at each ask that a fresh
sampler per ask cannot cache (about 25 ms at 100 trials of the 32-decision DARTS space).
An archsearch space fixes every decision up front, so these samplers are given it. They
see what the inferred space would hold: every decision with more than one choice, sorted
by name as Optuna sorts it; decisions with one choice are left to independent sampling.
"""

from __future__ import annotations

from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.samplers import NSGAIISampler, TPESampler
from optuna.study import Study
from optuna.trial import FrozenTrial

__all__ = ["FixedSpaceNSGAII", "FixedSpaceTPE", "search_space"]


def search_space(paths: tuple[str, ...], choices: tuple[tuple[int, ...], ...]) -> dict[str, BaseDistribution]:
    """The relative search space of decisions named ``paths`` with these choice indices."""
    space: dict[str, BaseDistribution] = {
        path: CategoricalDistribution(c) for path, c in zip(paths, choices) if len(c) > 1}
    return dict(sorted(space.items()))


class FixedSpaceTPE(TPESampler):
    """TPE whose relative search space is given (used only when ``multivariate``)."""

    def __init__(self, space: dict[str, BaseDistribution], *, multivariate: bool,
                 **kwargs: Any) -> None:
        super().__init__(multivariate=multivariate, **kwargs)
        self._space = space if multivariate else {}

    def infer_relative_search_space(self, study: Study,
                                    trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return dict(self._space)


class FixedSpaceNSGAII(NSGAIISampler):
    """NSGA-II whose search space is given."""

    def __init__(self, space: dict[str, BaseDistribution], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._space = space

    def infer_relative_search_space(self, study: Study,
                                    trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return dict(self._space)
