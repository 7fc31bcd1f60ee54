"""Early stopping of trials: asynchronous successive halving and Hyperband over reported steps.

An evaluator that trains reports a value after each epoch (``ctx.report``) and asks
``ctx.should_prune()``; the experiment answers with its pruner's decision. A stopped trial
is recorded as ``PRUNED`` with the steps (epochs) it got, so budgets and reports count
what it cost.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from archsearch._utils.validation import check_int
from archsearch.errors import IncompatibleError, InvalidParameterError
from archsearch.types import FrozenTrial, TrialState

__all__ = ["Hyperband", "Pruner", "SuccessiveHalving", "check_pruner_fits", "create_pruner"]


class Pruner(ABC):
    """Decides, from the values a trial reports at its steps, whether it stops there."""

    name: str
    min_resource: int

    def check(self) -> None:
        """Raise InvalidParameterError on a bad setting (before any trial runs)."""

    @abstractmethod
    def setup(self, direction: Literal["maximize", "minimize"],
              trials: Iterable[FrozenTrial] = (), max_resource: int | None = None,
              steps: Sequence[int] | None = None) -> None:
        """Start afresh for ``direction``, loading what the finished ``trials`` reported.

        ``max_resource`` is the steps a trial takes in full (an evaluator's epochs), and
        ``steps`` those at which it reports (a table's fidelities), where known.
        """

    @abstractmethod
    def should_prune(self, step: int, value: float, trial: int = 0) -> bool:
        """Record ``value``, reported by trial number ``trial`` at ``step``; whether it stops."""

    @abstractmethod
    def can_stop_at(self, step: int) -> bool:
        """Whether some trial may be stopped at ``step`` (after :meth:`setup`)."""

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """Settings that define the pruner (part of an experiment's identity)."""


def _live(trials: Iterable[FrozenTrial]) -> list[FrozenTrial]:
    """Trials whose reports count: not those a dead process interrupted (they run again)."""
    return [t for t in trials if t.state not in (TrialState.INTERRUPTED, TrialState.RUNNING)]


class SuccessiveHalving(Pruner):
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

    def check(self) -> None:
        check_int("SuccessiveHalving", "min_resource", self.min_resource, 1)
        check_int("SuccessiveHalving", "eta", self.eta, 2)

    def setup(self, direction: Literal["maximize", "minimize"],
              trials: Iterable[FrozenTrial] = (), max_resource: int | None = None,
              steps: Sequence[int] | None = None) -> None:
        """Check the settings and load the values reported at each rung by ``trials``.

        Trials interrupted by a dead process are left out: they run again and report anew.
        """
        self.check()
        self._direction = direction
        self._rungs = {}
        for trial in _live(trials):
            for step, value in sorted(trial.intermediate.items()):
                if self.is_rung(step):
                    self._rungs.setdefault(step, []).append(value)

    def is_rung(self, step: int) -> bool:
        """Whether ``step`` is ``min_resource * eta**k`` for some k >= 0."""
        rung = self.min_resource
        while rung < step:
            rung *= self.eta
        return rung == step

    def can_stop_at(self, step: int) -> bool:
        return self.is_rung(step)

    def rungs(self) -> dict[int, list[float]]:
        """The values reported at each rung so far (a copy)."""
        return {step: list(values) for step, values in self._rungs.items()}

    def should_prune(self, step: int, value: float, trial: int = 0) -> bool:
        """Record ``value`` reported at ``step``; whether its trial should stop there."""
        if not self.is_rung(step):
            return False
        values = self._rungs.setdefault(step, [])
        values.append(value)
        return not _promotable(value, values, self.eta, self._direction)

    def config(self) -> dict[str, Any]:
        """Settings that define the pruner (part of an experiment's identity)."""
        return {"name": self.name, "min_resource": self.min_resource, "eta": self.eta}


class Hyperband(Pruner):
    """Asynchronous Hyperband (Li et al. 2017, 2020): brackets of successive halving.

    Bracket ``k`` (k = 0 .. s_max) is :class:`SuccessiveHalving` with its first rung at
    ``min_resource * eta**k``; ``s_max`` is the largest k whose first rung is at most
    ``max_resource``, so the last bracket stops few or no trials. Each trial belongs to one
    bracket, chosen from its number in proportion to the trials Hyperband gives each bracket
    (``ceil((s_max + 1) * eta**s / (s + 1))`` for s = s_max - k), interleaved; it competes only
    with the trials of its bracket. Hedging over brackets guards against a first rung too
    early to rank trials, the weakness of a single successive halving.

    Args:
        min_resource: the first rung of the most aggressive bracket, in steps (epochs).
        max_resource: the steps of a full trial (default: the evaluator's epochs).
        eta: the reduction factor of every bracket.

    Example:
        >>> pruner = Hyperband(min_resource=1, eta=3)
        >>> pruner.setup("maximize", max_resource=9)
        >>> [b.min_resource for b in pruner.brackets], pruner.weights
        ([1, 3, 9], [9, 5, 3])
        >>> [pruner.bracket_of(n) for n in range(6)]
        [0, 1, 0, 2, 0, 1]
    """

    name = "hyperband"

    def __init__(self, min_resource: int = 1, max_resource: int | None = None,
                 eta: int = 3) -> None:
        self.min_resource = min_resource
        self.max_resource = max_resource
        self.eta = eta
        self.brackets: list[SuccessiveHalving] = []
        self.weights: list[int] = []
        self._cycle: list[int] = []

    def check(self) -> None:
        check_int("Hyperband", "min_resource", self.min_resource, 1)
        check_int("Hyperband", "eta", self.eta, 2)
        if self.max_resource is not None:
            check_int("Hyperband", "max_resource", self.max_resource, self.min_resource)

    def setup(self, direction: Literal["maximize", "minimize"],
              trials: Iterable[FrozenTrial] = (), max_resource: int | None = None,
              steps: Sequence[int] | None = None) -> None:
        """Build the brackets for trials of ``max_resource`` steps; load each one's history.

        With ``steps`` (where trials report: a table's fidelities), a bracket's first rung
        moves up to the next reported step, and brackets that then coincide are merged, so
        no bracket waits for a step that never comes.
        """
        self.check()
        full = self.max_resource if self.max_resource is not None else max_resource
        if full is None:
            raise IncompatibleError(
                "hyperband needs the steps of a full trial: an evaluator that trains for a "
                "known number of epochs, or max_resource=N.")
        if full < self.min_resource:
            raise InvalidParameterError(
                f"hyperband: min_resource={self.min_resource} exceeds the {full} epochs of "
                "a full trial.")
        firsts = [self.min_resource]
        while firsts[-1] * self.eta <= full:
            firsts.append(firsts[-1] * self.eta)
        if steps is not None:  # the next step reported, or the end (a bracket that waits)
            early = sorted(s for s in steps if s < full)
            firsts = list(dict.fromkeys(next((s for s in early if s >= f), full)
                                        for f in firsts))
        s_max = len(firsts) - 1
        self.brackets = [SuccessiveHalving(first, self.eta) for first in firsts]
        self.weights = [math.ceil((s_max + 1) * self.eta ** s / (s + 1))
                        for s in range(s_max, -1, -1)]
        self._cycle = _interleave(self.weights)
        live = _live(trials)
        for k, bracket in enumerate(self.brackets):
            bracket.setup(direction, [t for t in live if self.bracket_of(t.number) == k])

    def bracket_of(self, trial: int) -> int:
        """The bracket of trial number ``trial``."""
        return self._cycle[trial % len(self._cycle)]

    def should_prune(self, step: int, value: float, trial: int = 0) -> bool:
        """Record ``value`` in the bracket of ``trial``; whether it stops at ``step``."""
        return self.brackets[self.bracket_of(trial)].should_prune(step, value)

    def can_stop_at(self, step: int) -> bool:
        return any(bracket.is_rung(step) for bracket in self.brackets)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "min_resource": self.min_resource,
                "max_resource": self.max_resource, "eta": self.eta}


def check_pruner_fits(pruner: Pruner, direction: Literal["maximize", "minimize"],
                      steps: Sequence[int] | None, full: int | None) -> None:
    """Raise IncompatibleError if ``pruner`` could never stop a trial reporting at ``steps``.

    A table reports only at its fidelities (12 and 200 epochs in NB201): rungs at 1, 3, 9, ...
    would miss them all and the pruner would silently do nothing.
    """
    pruner.setup(direction, (), full, steps)
    if steps is None or full is None:
        return
    early = sorted(s for s in steps if s < full)
    if not early:
        raise IncompatibleError(f"The pruner {pruner.name} can stop nothing: trials report "
                                f"only at their end ({full} epochs).")
    if not any(pruner.can_stop_at(s) for s in early):
        raise IncompatibleError(
            f"The pruner {pruner.name} (min_resource={pruner.min_resource}) "
            f"has no rung where trials report before their end (epochs {early}), so it would "
            f"stop nothing; e.g. {pruner.name}:min_resource={early[0]}.")


def _interleave(weights: Sequence[int]) -> list[int]:
    """Indices, each ``weights[i]`` times, spread evenly (smooth weighted round robin)."""
    total, current, order = sum(weights), [0] * len(weights), []
    for _ in range(total):
        current = [c + w for c, w in zip(current, weights)]
        pick = max(range(len(weights)), key=lambda i: current[i])
        current[pick] -= total
        order.append(pick)
    return order


def _promotable(value: float, competing: Sequence[float], eta: int,
                direction: Literal["maximize", "minimize"]) -> bool:
    """Whether ``value`` is in the best ``len(competing) // eta`` (at least 1) of ``competing``."""
    k = max(1, len(competing) // eta)
    ranked = sorted(competing, reverse=direction == "maximize")
    threshold = ranked[k - 1]
    return value >= threshold if direction == "maximize" else value <= threshold


_PRUNERS: dict[str, tuple[type[Pruner], tuple[str, ...]]] = {
    "asha": (SuccessiveHalving, ("min_resource", "eta")),
    "hyperband": (Hyperband, ("min_resource", "max_resource", "eta")),
}


def create_pruner(spec: str) -> Pruner:
    """A pruner from ``"asha[:min_resource=R][:eta=E]"`` or
    ``"hyperband[:min_resource=R][:max_resource=M][:eta=E]"``, its settings checked.

    Example:
        >>> create_pruner("asha:eta=2").config()
        {'name': 'asha', 'min_resource': 1, 'eta': 2}
    """
    from archsearch.strategies import parse_spec

    name, kwargs = parse_spec(spec)
    if name not in _PRUNERS:
        raise InvalidParameterError(f"Unknown pruner {name!r}; allowed: {sorted(_PRUNERS)} "
                                    "(e.g. asha:min_resource=1:eta=3).")
    cls, allowed = _PRUNERS[name]
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise InvalidParameterError(f"The pruner {name} takes {', '.join(allowed)}. Got "
                                    f"{unknown[0]!r} instead.")
    pruner = cls(**kwargs)
    pruner.check()  # the settings now, not at the first trial
    return pruner
