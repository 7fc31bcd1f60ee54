"""What a search maximises: one metric, the MnasNet reward, or a Pareto front of two.

:class:`~archsearch.types.Objective` maximises or minimises one metric. :class:`MnasReward`
mixes accuracy with latency as MnasNet does, so any strategy can run a hardware-aware
search. :func:`pareto_front` gives the non-dominated trials for any pair of metrics.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from archsearch.errors import InvalidParameterError
from archsearch.types import FrozenTrial, Objective, TrialState

__all__ = ["MnasReward", "objective_from_json", "pareto_front"]

Direction = Literal["maximize", "minimize"]


@dataclass(frozen=True)
class MnasReward(Objective):
    """The MnasNet reward ``ACC * (LAT / T) ** w`` (Tan et al., CVPR 2019).

    ``w = alpha`` when the latency meets the target ``T`` and ``beta`` otherwise. The soft
    constraint uses ``alpha = beta = -0.07``; the hard one ``alpha = 0, beta = -1``, which
    leaves accuracy alone under ``T`` and divides it by ``LAT / T`` above.

    Args:
        accuracy: the accuracy metric.
        latency: the latency metric (any unit, as long as ``target`` uses the same).
        target: the latency target ``T`` (> 0).
        alpha: the exponent when ``LAT <= T``.
        beta: the exponent when ``LAT > T``.

    Example:
        >>> reward = MnasReward.soft("acc", "lat", target=10.0)
        >>> round(reward.value({"acc": 0.9, "lat": 20.0}), 4)
        0.8574
        >>> MnasReward.hard("acc", "lat", target=10.0).value({"acc": 0.9, "lat": 5.0})
        0.9
    """

    name: str = "mnas_reward"
    direction: Direction = "maximize"
    accuracy: str = "val_accuracy"
    latency: str = "latency_ms"
    target: float = 1.0
    alpha: float = -0.07
    beta: float = -0.07

    def __post_init__(self) -> None:
        if not (isinstance(self.target, (int, float)) and self.target > 0):
            raise InvalidParameterError(
                f"The 'target' parameter of MnasReward must be a number > 0. Got {self.target!r}.")

    @classmethod
    def soft(cls, accuracy: str, latency: str, target: float) -> MnasReward:
        """The soft constraint of the paper: ``alpha = beta = -0.07``."""
        return cls(accuracy=accuracy, latency=latency, target=target, alpha=-0.07, beta=-0.07)

    @classmethod
    def hard(cls, accuracy: str, latency: str, target: float) -> MnasReward:
        """The hard constraint of the paper: ``alpha = 0, beta = -1``."""
        return cls(accuracy=accuracy, latency=latency, target=target, alpha=0.0, beta=-1.0)

    def value(self, values: Mapping[str, float]) -> float | None:
        acc, lat = values.get(self.accuracy), values.get(self.latency)
        if acc is None or lat is None or math.isnan(acc) or not math.isfinite(lat) or lat <= 0:
            return None
        w = self.alpha if lat <= self.target else self.beta
        return float(acc) * float((float(lat) / self.target) ** w)

    def to_json(self) -> dict[str, Any]:
        return {"kind": "mnas_reward", "name": self.name, "direction": self.direction,
                "accuracy": self.accuracy, "latency": self.latency, "target": self.target,
                "alpha": self.alpha, "beta": self.beta}


def objective_from_json(data: Mapping[str, Any]) -> Objective:
    """Rebuild an objective from :meth:`Objective.to_json` data (as stored with a search)."""
    data = dict(data)
    kind = data.pop("kind", None)
    if kind == "mnas_reward":
        return MnasReward(**data)
    return Objective(name=data.get("name", "val_accuracy"), direction=data.get("direction", "maximize"))


def pareto_front(trials: Iterable[FrozenTrial], first: tuple[str, Direction],
                 second: tuple[str, Direction]) -> list[FrozenTrial]:
    """The complete trials no other complete trial beats on both metrics.

    Args:
        trials: any trials; those not complete or missing a metric are left out.
        first: ``(metric, direction)``, e.g. ``("val_accuracy", "maximize")``.
        second: e.g. ``("latency_ms", "minimize")``.

    Returns:
        The front, sorted by the first metric, best first.
    """
    sign = {"maximize": -1.0, "minimize": 1.0}
    points = []
    for t in trials:
        a, b = t.values.get(first[0], math.nan), t.values.get(second[0], math.nan)
        if t.state is TrialState.COMPLETE and math.isfinite(a) and math.isfinite(b):
            points.append((sign[first[1]] * a, sign[second[1]] * b, t.number, t))
    points.sort(key=lambda p: (p[0], p[1], p[2]))  # best first on the first metric
    front: list[FrozenTrial] = []
    best_second = math.inf
    for _, b, _, t in points:
        if b < best_second:
            front.append(t)
            best_second = b
    return front
