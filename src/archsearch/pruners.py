"""Early stopping of trials: asynchronous successive halving over reported steps.

An evaluator that trains reports a value after each epoch (``ctx.report``) and asks
``ctx.should_prune()``; the experiment answers with its pruner's decision. A stopped trial
is recorded as ``PRUNED`` with the steps (epochs) it got, so budgets and reports count
what it cost.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from archsearch._utils.validation import check_int
from archsearch.errors import InvalidParameterError
from archsearch.types import FrozenTrial, TrialState

__all__ = ["SuccessiveHalving", "create_pruner"]


class SuccessiveHalving:
    """Asynchronous successive halving (ASHA, Li et al. 2020), the stopping variant.

    Rungs sit at ``min_resource * eta**k`` steps (k = 0, 1, ...). A trial reporting at a
    rung goes on only if its value is among the best ``1/eta`` of all values reported at
    that rung so far, its own included, by any trial of the experiment; otherwise it is
    stopped. While a rung holds fewer than ``eta`` values, only a value at least as good
    as the best so far goes on (as Optuna's ``SuccessiveHalvingPruner`` does). The history
    is read back from the store, so it survives a resume.

    Args:
        min_resource: the first rung, in steps (epochs).
        eta: the reduction factor: one trial in ``eta`` goes on at each rung.

    Example:
        >>> pruner = SuccessiveHalving(min_resource=1, eta=2)
        >>> pruner.setup("maximize")
        >>> [pruner.should_prune(1, v) for v in (0.5, 0.7, 0.4, 0.6)]
        [False, False, True, False]
    """

    name = "asha"

    def __init__(self, min_resource: int = 1, eta: int = 3) -> None:
        self.min_resource = min_resource
        self.eta = eta
        self._rungs: dict[int, list[float]] = {}
        self._direction: Literal["maximize", "minimize"] = "maximize"

    def setup(self, direction: Literal["maximize", "minimize"],
              trials: Iterable[FrozenTrial] = ()) -> None:
        """Check the settings and load the values reported at each rung by ``trials``.

        Trials interrupted by a dead process are left out: they run again and report anew.
        """
        check_int("SuccessiveHalving", "min_resource", self.min_resource, 1)
        check_int("SuccessiveHalving", "eta", self.eta, 2)
        self._direction = direction
        self._rungs = {}
        for trial in trials:
            if trial.state in (TrialState.INTERRUPTED, TrialState.RUNNING):
                continue
            for step, value in sorted(trial.intermediate.items()):
                if self.is_rung(step):
                    self._rungs.setdefault(step, []).append(value)

    def is_rung(self, step: int) -> bool:
        """Whether ``step`` is ``min_resource * eta**k`` for some k >= 0."""
        rung = self.min_resource
        while rung < step:
            rung *= self.eta
        return rung == step

    def rungs(self) -> dict[int, list[float]]:
        """The values reported at each rung so far (a copy)."""
        return {step: list(values) for step, values in self._rungs.items()}

    def should_prune(self, step: int, value: float) -> bool:
        """Record ``value`` reported at ``step``; whether its trial should stop there."""
        if not self.is_rung(step):
            return False
        values = self._rungs.setdefault(step, [])
        values.append(value)
        return not _promotable(value, values, self.eta, self._direction)

    def config(self) -> dict[str, Any]:
        """Settings that define the pruner (part of an experiment's identity)."""
        return {"name": self.name, "min_resource": self.min_resource, "eta": self.eta}


def _promotable(value: float, competing: Sequence[float], eta: int,
                direction: Literal["maximize", "minimize"]) -> bool:
    """Whether ``value`` is in the best ``len(competing) // eta`` (at least 1) of ``competing``."""
    k = max(1, len(competing) // eta)
    ranked = sorted(competing, reverse=direction == "maximize")
    threshold = ranked[k - 1]
    return value >= threshold if direction == "maximize" else value <= threshold


def create_pruner(spec: str) -> SuccessiveHalving:
    """A pruner from ``"asha[:min_resource=R][:eta=E]"``, its settings checked.

    Example:
        >>> create_pruner("asha:eta=2").config()
        {'name': 'asha', 'min_resource': 1, 'eta': 2}
    """
    from archsearch.strategies import parse_spec

    name, kwargs = parse_spec(spec)
    if name != SuccessiveHalving.name:
        raise InvalidParameterError(f"Unknown pruner {name!r}; allowed: ['asha'] "
                                    "(e.g. asha:min_resource=1:eta=3).")
    unknown = sorted(set(kwargs) - {"min_resource", "eta"})
    if unknown:
        raise InvalidParameterError(f"The pruner asha takes min_resource and eta. Got "
                                    f"{unknown[0]!r} instead.")
    pruner = SuccessiveHalving(**kwargs)
    pruner.setup("maximize")  # checks the settings now, not at the first trial
    return pruner
