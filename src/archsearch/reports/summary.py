"""One search run directory read for a report: its store, settings and final training.

The store is the source of truth: a directory without one is refused. ``config.json`` and
``final/metrics.json`` are optional; when one cannot be read the report says why instead
of failing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archsearch.errors import StoreError
from archsearch.objectives import MnasReward, MultiObjective, objective_from_json, pareto_front
from archsearch.storage import SQLiteStore
from archsearch.types import FrozenTrial, Objective, TrialState

__all__ = ["RunSummary", "load_run", "describe_settings", "format_seconds", "trial_time"]

STORE, CONFIG, FINAL = "store.db", "config.json", "final/metrics.json"


@dataclass(frozen=True)
class RunSummary:
    """What a report shows of one search: built by :func:`load_run`.

    Args:
        path: the run directory.
        name: the experiment's name in the store.
        settings: the experiment's stored identity (space, strategy, evaluator, objective).
        config: ``config.json`` (empty if absent or unreadable).
        trials: every trial, in order; for a one-shot search, one per supernet epoch.
        objective: what the search optimises.
        final: ``final/metrics.json`` of ``archsearch train``, or None.
        problems: why an optional file could not be used, by file name.
    """

    path: Path
    name: str
    settings: Mapping[str, Any]
    config: Mapping[str, Any]
    trials: tuple[FrozenTrial, ...]
    objective: Objective
    final: Mapping[str, Any] | None = None
    problems: Mapping[str, str] = field(default_factory=dict)

    @property
    def one_shot(self) -> bool:
        """Whether a supernet was trained (DARTS): its trials are epochs, not architectures."""
        strategy = self.settings.get("strategy")
        return isinstance(strategy, Mapping) and strategy.get("name") == "darts"

    @property
    def complete(self) -> list[FrozenTrial]:
        return [t for t in self.trials if t.state is TrialState.COMPLETE]

    def counts(self) -> dict[str, int]:
        """Trials per state, complete first, then the others in the order they occur."""
        counts = {TrialState.COMPLETE.value: 0}
        for t in self.trials:
            counts[t.state.value] = counts.get(t.state.value, 0) + 1
        return counts

    def score(self, trial: FrozenTrial) -> float | None:
        """The objective's finite value of ``trial`` (the first metric's, for several)."""
        value = self.objective.value(trial.values) if trial.state is TrialState.COMPLETE else None
        return value if value is not None and math.isfinite(value) else None

    def ranked(self) -> list[FrozenTrial]:
        """The complete trials with a score, best first (ties: the earlier trial)."""
        scored = [t for t in self.complete if self.score(t) is not None]
        return sorted(scored, key=lambda t: (self.objective.sort_value(t.values), t.number))

    def best(self) -> FrozenTrial | None:
        """The search's pick: the best scored trial, or a one-shot search's last epoch."""
        if self.one_shot:
            return self.complete[-1] if self.complete else None
        front = self.front()
        if front:  # several objectives: the front's best on the first, as the search picks
            return front[0]
        ranked = self.ranked()
        return ranked[0] if ranked else None

    def pairs(self) -> list[tuple[tuple[str, Any], tuple[str, Any]]]:
        """The (metric, direction) pairs whose Pareto fronts the run has: none for one metric."""
        objective = self.objective
        if isinstance(objective, MnasReward):
            return [((objective.accuracy, "maximize"), (objective.latency, "minimize"))]
        if isinstance(objective, MultiObjective):
            first = objective.metrics[0]
            return [(first, other) for other in objective.metrics[1:]]
        return []

    def front(self) -> list[FrozenTrial]:
        """The Pareto front over every objective of a multi-objective run, else empty."""
        if isinstance(self.objective, MultiObjective):
            return pareto_front(self.trials, *self.objective.metrics)
        return []

    def started_at(self) -> float | None:
        """When the first trial started (seconds since the epoch)."""
        return min((t for t in map(trial_time, self.trials) if t is not None), default=None)

    def span_s(self) -> float | None:
        """Seconds from the first trial's start to the last one's end."""
        ends = [e for t in self.trials if (e := trial_time(t, end=True)) is not None]
        start = self.started_at()
        return None if start is None or not ends else max(ends) - start

    def dataset(self) -> str:
        """The data searched on: a dataset name, or the tabular benchmark file."""
        evaluator = self.settings.get("evaluator")
        if isinstance(evaluator, Mapping) and evaluator.get("name") == "table":
            return f"tabular benchmark {Path(str(evaluator.get('table', '?'))).name}"
        data = self.settings.get("dataset")
        name = data.get("dataset") if isinstance(data, Mapping) else None
        name = name or self.config.get("dataset")
        if not name:
            return "unknown"
        n_train = data.get("n_train") if isinstance(data, Mapping) else None
        return f"{name} (n_train={n_train})" if n_train else str(name)


def trial_time(trial: FrozenTrial, end: bool = False) -> float | None:
    """When ``trial`` started (with ``end``: ended, else started), in seconds since the
    epoch; None if unknown or not a plausible time (a damaged store)."""
    times = (trial.finished_at, trial.started_at) if end else (trial.started_at,)
    return next((t for t in times if t is not None and 0 <= t < 1e11), None)


def load_run(run_dir: str | Path, name: str | None = None) -> RunSummary:
    """Read the run directory ``run_dir`` made by ``archsearch search``.

    Args:
        run_dir: the folder holding ``store.db``.
        name: the experiment to read (default: the first in the store).

    Raises:
        StoreError: the folder holds no archsearch store, or not that experiment.
    """
    path = Path(run_dir)
    store_path = path / STORE
    if not store_path.is_file():
        what = ("does not exist" if not path.exists() else
                "is a file, not a directory" if not path.is_dir() else f"has no {STORE}")
        raise StoreError(f"No archsearch run in {path}: it {what}. Give a run directory made "
                         "by 'archsearch search --run-dir DIR'.")
    store = SQLiteStore(store_path, create=False)  # a report never writes a new schema
    try:
        names = store.experiment_names()
        if not names:
            raise StoreError(f"{store_path} holds no search yet.")
        chosen = name or names[0]
        found = store.find_experiment(chosen)
        if found is None:
            raise StoreError(f"No experiment {chosen!r} in {store_path}; it holds: "
                             f"{', '.join(map(repr, names)) or 'none'}.")
        experiment_id, settings = found
        trials = tuple(store.trials(experiment_id))
    finally:
        store.close()
    problems: dict[str, str] = {}
    config = _read_json(path / CONFIG, problems) or {}
    final = _read_json(path / FINAL, problems)
    return RunSummary(path, chosen, settings, config, trials, _objective(settings, store_path),
                      final, problems)


def _objective(settings: Mapping[str, Any], where: Path) -> Objective:
    if isinstance(settings.get("strategy"), Mapping) and settings["strategy"].get("name") == "darts":
        return Objective("val_accuracy", "maximize")
    try:
        objective = objective_from_json(settings.get("objective", {"name": "val_accuracy"}))
        if not isinstance(objective.name, str):
            raise TypeError(f"the objective's name is {objective.name!r}")
    except (TypeError, ValueError, KeyError, AttributeError) as err:
        raise StoreError(f"The experiment in {where} has corrupt objective settings: "
                         f"{' '.join(str(err).split()).rstrip('.')}.") from None
    return objective


def _read_json(path: Path, problems: dict[str, str]) -> dict[str, Any] | None:
    """A JSON object, or None (with the reason in ``problems`` unless the file is absent)."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError) as err:
        problems[path.name] = f"{path} cannot be read ({' '.join(str(err).split())[:200]})"
        return None
    if not isinstance(data, dict):
        problems[path.name] = f"{path} is not a JSON object"
        return None
    return data


def describe_settings(settings: Any, skip: tuple[str, ...] = ("name",)) -> str:
    """``{"name": "evolution", "population_size": 10}`` -> ``"evolution (population_size=10)"``.

    Example:
        >>> describe_settings({"name": "evolution", "population_size": 10, "sample_size": 3})
        'evolution (population_size=10, sample_size=3)'
        >>> describe_settings("random")
        'random'
    """
    if not isinstance(settings, Mapping):
        return str(settings)
    rest = ", ".join(f"{k}={_short(v)}" for k, v in settings.items()
                     if k not in skip and not isinstance(v, Mapping))
    name = str(settings.get("name", ""))
    return f"{name} ({rest})" if rest and name else name or rest


def _short(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (list, bool)) or value is None else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def format_seconds(seconds: float | None) -> str:
    """A duration as people read it.

    Example:
        >>> format_seconds(4.25), format_seconds(192), format_seconds(7384)
        ('4.2 s', '3 min 12 s', '2 h 03 min')
    """
    if seconds is None or not math.isfinite(seconds):
        return "unknown"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
