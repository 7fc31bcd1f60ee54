"""The evaluator protocol: score one architecture, reporting progress to its trial."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from archsearch.spaces.base import SearchSpace
from archsearch.types import Architecture, Objective

__all__ = ["Evaluator", "TrialContext"]


@dataclass
class TrialContext:
    """What an evaluation knows of its trial.

    Args:
        number: the trial number within its experiment.
        seed: the seed for this trial's randomness (derived from the experiment seed).
        reporter: stores an intermediate value at once (e.g. accuracy after an epoch) and
            answers whether the search wants the trial stopped there.
        pruning: whether the search may stop trials early (it has a pruner), so an
            evaluator with cheap low fidelities reports them first.
    """

    number: int
    seed: int
    reporter: Callable[[int, float], bool | None] = field(default=lambda step, value: None)
    pruning: bool = False
    _prune: bool = field(default=False, repr=False)

    def report(self, step: int, value: float) -> None:
        """Record an intermediate value; it is stored immediately."""
        self._prune = bool(self.reporter(step, value))

    def should_prune(self) -> bool:
        """Whether the search wants this trial stopped after its last report.

        When it does, the evaluator raises :class:`~archsearch.errors.TrialPruned`.
        """
        return self._prune


class Evaluator(ABC):
    """Base class of evaluators. ``evaluate`` returns a dict of metrics."""

    name: str = ""
    objectives: tuple[Objective, ...] = ()

    def setup(self, space: SearchSpace) -> None:
        """Bind to a space and check it can be evaluated (fail before trial 0)."""
        self.space = space

    @abstractmethod
    def evaluate(self, arch: Architecture, ctx: TrialContext) -> dict[str, float]:
        """Score ``arch``; raise TrialFailed for a recorded failure."""

    def max_epochs(self) -> int | None:
        """Epochs one full evaluation pays for (None: not measured in epochs)."""
        return None

    def report_steps(self) -> list[int] | None:
        """The steps at which an evaluation reports under a pruner (None: not known)."""
        return None

    def config(self) -> dict[str, Any]:
        """Settings that define the evaluation (part of an experiment's identity)."""
        return {"name": self.name}
