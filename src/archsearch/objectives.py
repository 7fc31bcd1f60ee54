"""What a search maximises: one metric, the MnasNet reward, or several metrics at once.

:class:`~archsearch.types.Objective` maximises or minimises one metric. :class:`MnasReward`
mixes accuracy with latency as MnasNet does, so any strategy can run a hardware-aware
search. :class:`MultiObjective` keeps several metrics apart for the strategies that search
for a Pareto front. :func:`pareto_front` gives the non-dominated trials for any metrics.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from archsearch.errors import InvalidParameterError
from archsearch.types import FrozenTrial, Objective, TrialState

__all__ = ["MnasReward", "MultiObjective", "accuracy_scale_of", "objective_from_json",
           "pareto_front"]

Direction = Literal["maximize", "minimize"]
_SIGN = {"maximize": -1.0, "minimize": 1.0}  # turns a value into one to minimise


@dataclass(frozen=True)
class MnasReward(Objective):
    """The MnasNet reward ``ACC * (LAT / T) ** w`` (Tan et al., CVPR 2019).

    ``w = alpha`` when the latency meets the target ``T`` and ``beta`` otherwise. The soft
    constraint uses ``alpha = beta = -0.07``; the hard one ``alpha = 0, beta = -1``, which
    leaves accuracy alone under ``T`` and divides it by ``LAT / T`` above.

    ``ACC`` is a fraction (0 to 1) whatever the evaluator: training reports fractions, while
    tables such as NAS-Bench-201 hold percentages, which ``accuracy_scale=0.01`` turns into
    fractions (``archsearch search`` sets it for a table whose accuracy column holds
    values above 1), so the same network gets the same reward either way.

    Args:
        accuracy: the accuracy metric.
        latency: the latency metric (any unit, as long as ``target`` uses the same).
        target: the latency target ``T`` (> 0).
        alpha: the exponent when ``LAT <= T``.
        beta: the exponent when ``LAT > T``.
        accuracy_scale: what the accuracy is multiplied by to make it a fraction (> 0):
            1 for fractions, 0.01 for percentages.

    Example:
        >>> reward = MnasReward.soft("acc", "lat", target=10.0)
        >>> round(reward.value({"acc": 0.9, "lat": 20.0}), 4)
        0.8574
        >>> MnasReward.hard("acc", "lat", target=10.0).value({"acc": 0.9, "lat": 5.0})
        0.9
        >>> MnasReward.hard("acc", "lat", target=10.0, accuracy_scale=0.01).value(
        ...     {"acc": 90.0, "lat": 5.0})
        0.9
    """

    name: str = "mnas_reward"
    direction: Direction = "maximize"
    accuracy: str = "val_accuracy"
    latency: str = "latency_ms"
    target: float = 1.0
    alpha: float = -0.07
    beta: float = -0.07
    accuracy_scale: float = 1.0

    def __post_init__(self) -> None:
        for key in ("target", "accuracy_scale"):
            value = getattr(self, key)
            if isinstance(value, bool) or not (isinstance(value, (int, float))
                                               and math.isfinite(value) and value > 0):
                raise InvalidParameterError(
                    f"The {key!r} parameter of MnasReward must be a number > 0. Got {value!r}.")

    @classmethod
    def soft(cls, accuracy: str, latency: str, target: float,
             accuracy_scale: float = 1.0) -> MnasReward:
        """The soft constraint of the paper: ``alpha = beta = -0.07``."""
        return cls(accuracy=accuracy, latency=latency, target=target, alpha=-0.07, beta=-0.07,
                   accuracy_scale=accuracy_scale)

    @classmethod
    def hard(cls, accuracy: str, latency: str, target: float,
             accuracy_scale: float = 1.0) -> MnasReward:
        """The hard constraint of the paper: ``alpha = 0, beta = -1``."""
        return cls(accuracy=accuracy, latency=latency, target=target, alpha=0.0, beta=-1.0,
                   accuracy_scale=accuracy_scale)

    def value(self, values: Mapping[str, float]) -> float | None:
        acc, lat = values.get(self.accuracy), values.get(self.latency)
        if acc is None or lat is None or math.isnan(acc) or not math.isfinite(lat) or lat <= 0:
            return None
        w = self.alpha if lat <= self.target else self.beta
        return float(acc) * self.accuracy_scale * float((float(lat) / self.target) ** w)

    def to_json(self) -> dict[str, Any]:
        data = {"kind": "mnas_reward", "name": self.name, "direction": self.direction,
                "accuracy": self.accuracy, "latency": self.latency, "target": self.target,
                "alpha": self.alpha, "beta": self.beta}
        if self.accuracy_scale != 1.0:  # absent at 1, as stored by runs made before it existed
            data["accuracy_scale"] = self.accuracy_scale
        return data


@dataclass(frozen=True, init=False)
class MultiObjective(Objective):
    """Several metrics optimised at once, each in its own direction.

    Strategies that search for a Pareto front (``optuna-nsga2``, ``optuna-tpe``) see every
    metric through :meth:`vector`; ``random`` accepts any objective. There is no single
    score to maximise, so strategies that need one (``evolution``, ``reinforce``) refuse a
    multi-objective at setup.

    Everything that needs one number uses the first metric: ``name`` and ``direction``
    are the first metric's, :meth:`score` and :meth:`sort_value` order trials best-first by
    it, and a trial missing any metric (or with a NaN or infinite one) has no score, so a
    search records it as failed. :func:`~archsearch.experiment.best_trials` (and
    ``Experiment.best``) return the Pareto front over all metrics instead, ordered by the
    first metric.

    Args:
        *metrics: two or more ``(metric, direction)`` pairs with distinct metric names,
            direction ``"maximize"`` or ``"minimize"``.

    Example:
        >>> objective = MultiObjective(("val_accuracy", "maximize"), ("latency_ms", "minimize"))
        >>> objective.vector({"val_accuracy": 0.9, "latency_ms": 12.0})
        (0.9, 12.0)
        >>> objective.score({"val_accuracy": 0.9}) is None
        True
        >>> objective_from_json(objective.to_json()) == objective
        True
    """

    metrics: tuple[tuple[str, Direction], ...] = ()

    def __init__(self, *metrics: tuple[str, Direction]) -> None:
        pairs = _check_metrics(metrics)
        object.__setattr__(self, "metrics", pairs)
        object.__setattr__(self, "name", pairs[0][0])
        object.__setattr__(self, "direction", pairs[0][1])

    @property
    def names(self) -> tuple[str, ...]:
        """The metric names, in order."""
        return tuple(name for name, _ in self.metrics)

    @property
    def directions(self) -> tuple[Direction, ...]:
        """The direction of each metric, in order."""
        return tuple(direction for _, direction in self.metrics)

    def vector(self, values: Mapping[str, float]) -> tuple[float, ...] | None:
        """The value of each metric, in order; None if any is missing or not finite."""
        vector = tuple(float(values.get(name, math.nan)) for name in self.names)
        return vector if all(math.isfinite(v) for v in vector) else None

    def value(self, values: Mapping[str, float]) -> float | None:
        """The first metric's value, provided every metric has a finite value."""
        vector = self.vector(values)
        return None if vector is None else vector[0]

    def to_json(self) -> dict[str, Any]:
        return {"kind": "multi", "name": self.name, "direction": self.direction,
                "metrics": [list(pair) for pair in self.metrics]}


def _check_metrics(metrics: tuple[Any, ...]) -> tuple[tuple[str, Direction], ...]:
    """The ``(metric, direction)`` pairs of a MultiObjective, checked."""
    valid = all(isinstance(m, (tuple, list)) and len(m) == 2 and isinstance(m[0], str)
                and m[1] in ("maximize", "minimize") for m in metrics)
    names = [m[0] for m in metrics] if valid else []
    if not valid or len(metrics) < 2 or len(set(names)) < len(names):
        raise InvalidParameterError(
            "MultiObjective needs two or more (metric, direction) pairs with distinct metric "
            "names and direction 'maximize' or 'minimize', e.g. ('val_accuracy', 'maximize'), "
            f"('latency_ms', 'minimize'). Got {list(metrics)!r} instead.")
    return tuple((str(m[0]), m[1]) for m in metrics)


def objective_from_json(data: Mapping[str, Any]) -> Objective:
    """Rebuild an objective from :meth:`Objective.to_json` data (as stored with a search)."""
    data = dict(data)
    kind = data.pop("kind", None)
    if kind == "mnas_reward":
        return MnasReward(**data)
    if kind == "multi":
        return MultiObjective(*(tuple(pair) for pair in data["metrics"]))
    return Objective(name=data.get("name", "val_accuracy"), direction=data.get("direction", "maximize"))


def pareto_front(trials: Iterable[FrozenTrial], *metrics: tuple[str, Direction]) -> list[FrozenTrial]:
    """The complete trials that no other complete trial matches or beats on every metric.

    Of trials with equal values on every metric, only the earliest is kept.

    Args:
        trials: any trials; those not complete or missing a metric are left out.
        *metrics: one or more ``(metric, direction)`` pairs, e.g.
            ``("val_accuracy", "maximize"), ("latency_ms", "minimize")``.

    Returns:
        The front, sorted by the first metric, best first (ties: by the next metrics, then
        by trial number).

    Example:
        >>> from archsearch.types import FrozenTrial, TrialState
        >>> trials = [FrozenTrial(n, 0, n, "x", str(n), TrialState.COMPLETE, {"acc": a, "lat": b})
        ...           for n, (a, b) in enumerate([(0.9, 10), (0.8, 5), (0.85, 12), (0.95, 20)])]
        >>> [t.number for t in pareto_front(trials, ("acc", "maximize"), ("lat", "minimize"))]
        [3, 0, 1]
    """
    if not metrics or any(len(m) != 2 or m[1] not in _SIGN for m in metrics):
        raise InvalidParameterError(
            "pareto_front needs one or more (metric, direction) pairs with direction 'maximize' "
            f"or 'minimize'. Got {list(metrics)!r} instead.")
    points = []
    for t in trials:
        point = tuple(_SIGN[direction] * t.values.get(name, math.nan) for name, direction in metrics)
        if t.state is TrialState.COMPLETE and all(math.isfinite(x) for x in point):
            points.append((point, t.number, t))
    points.sort(key=lambda p: (p[0], p[1]))  # best first on the first metric
    kept: list[tuple[float, ...]] = []
    front: list[FrozenTrial] = []
    for point, _, t in points:  # anything that dominates a point sorts before it
        if not any(all(a <= b for a, b in zip(other, point)) for other in kept):
            kept.append(point)
            front.append(t)
    return front


def accuracy_scale_of(values: Any) -> float:
    """The factor that makes a column of accuracies a fraction: 0.01 for percentages (any
    finite value above 1), else 1; what :class:`MnasReward` takes as ``accuracy_scale``."""
    import numpy as np

    column = np.asarray(values, dtype=float)
    return 0.01 if np.any(column[np.isfinite(column)] > 1.0) else 1.0
