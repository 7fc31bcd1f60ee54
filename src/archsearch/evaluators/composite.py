"""Evaluators that compose: accuracy from one, cost from another."""

from __future__ import annotations

from typing import Any

from archsearch.evaluators.base import Evaluator, TrialContext
from archsearch.spaces.base import SearchSpace
from archsearch.types import Architecture, Objective

__all__ = ["Composite"]


class Composite(Evaluator):
    """Run several evaluators on each architecture and merge their metrics.

    The objectives are the first evaluator's, then the others'. A metric name given by
    two evaluators keeps the first one's value.

    Args:
        evaluators: the parts, in order.

    Example:
        >>> import archsearch, numpy as np
        >>> from archsearch.evaluators import Cost
        >>> from archsearch.testing import MatchTarget
        >>> both = Composite(MatchTarget(["skip_connect"] * 6), Cost((1, 8, 8), 3, (1,), n_repeat=2))
        >>> space = archsearch.create_space("nb201", channels=4, cells_per_stage=1)
        >>> both.setup(space)
        >>> sorted(both.evaluate(space.sample(np.random.default_rng(0)), None))
        ['flops', 'latency_ms', 'params', 'score']
    """

    name = "composite"

    def __init__(self, *evaluators: Evaluator) -> None:
        self.evaluators = evaluators

    @property
    def objectives(self) -> tuple[Objective, ...]:  # type: ignore[override]
        return tuple(o for e in self.evaluators for o in e.objectives)

    def setup(self, space: SearchSpace) -> None:
        super().setup(space)
        for evaluator in self.evaluators:
            evaluator.setup(space)

    def evaluate(self, arch: Architecture, ctx: TrialContext) -> dict[str, float]:
        metrics: dict[str, float] = {}
        for evaluator in self.evaluators:
            for name, value in evaluator.evaluate(arch, ctx).items():
                metrics.setdefault(name, value)
        return metrics

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "parts": [e.config() for e in self.evaluators]}
