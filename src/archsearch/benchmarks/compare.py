"""Compare strategies on a tabular benchmark, the way NAS papers do.

Each strategy runs once per seed for ``budget`` queries, or ``budget`` training epochs
(``unit="epochs"``: a query of a table's N-epoch column costs N, a trial stopped early the
epochs it got). After every trial, the run's pick is its best complete trial so far by the
objective; the curve records the report column of that pick at each point of the budget.
The final figure is the mean and standard deviation of the report column of each run's
pick once the budget is spent.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from archsearch._utils.imports import require
from archsearch._utils.validation import check_int
from archsearch.benchmarks.table import Table
from archsearch.errors import InvalidParameterError
from archsearch.evaluators.base import Evaluator
from archsearch.experiment import Experiment
from archsearch.pruners import check_pruner_fits, create_pruner
from archsearch.spaces.base import SearchSpace
from archsearch.storage import MemoryStore
from archsearch.strategies import ProxyScorer, build_strategy, needs_scorer, parse_strategy_spec
from archsearch.strategies.base import Strategy
from archsearch.types import Objective, TrialState

__all__ = ["CompareResult", "compare_strategies", "plot_curves", "split_spec"]


@dataclass
class CompareResult:
    """Curves of every strategy: ``curves[name]`` is (seeds, len(x)), NaN before a pick.

    ``x`` holds the points of the budget the curves are read at (queries or epochs, as
    ``unit`` says). ``picks[name]`` holds the metrics of each run's final pick (empty if
    nothing completed); ``trials[name]`` and ``pruned[name]`` how many trials each run got
    and how many of them were stopped early.
    """

    objective: str
    report: str
    budget: int
    seeds: int
    unit: Literal["queries", "epochs"] = "queries"
    x: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    curves: dict[str, np.ndarray] = field(default_factory=dict)
    trials: dict[str, list[int]] = field(default_factory=dict)
    pruned: dict[str, list[int]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    picks: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    proxy_evaluations: dict[str, list[int]] = field(default_factory=dict)
    optimum: float = math.nan

    def final(self, name: str) -> tuple[float, float]:
        """Mean and standard deviation over seeds of the report value at the full budget."""
        last = self.curves[name][:, -1]
        return float(np.nanmean(last)), float(np.nanstd(last))

    def to_json(self) -> dict[str, Any]:
        """The summary and the mean curves as JSON-ready data."""
        return {
            "objective": self.objective, "report": self.report, "budget": self.budget,
            "unit": self.unit, "seeds": self.seeds, "optimum": self.optimum,
            "x": self.x.tolist(),
            "strategies": {
                name: {"mean": self.final(name)[0], "std": self.final(name)[1],
                       "seconds": self.seconds[name],
                       "trials": float(np.mean(self.trials[name])),
                       "pruned": float(np.mean(self.pruned[name])),
                       "curve_mean": np.nanmean(c, axis=0).round(4).tolist()}
                for name, c in self.curves.items()
            },
        }


def compare_strategies(
    table: Table, space: SearchSpace, objective: str | Objective, strategies: Sequence[str], *,
    budget: int = 100, seeds: int = 10, report: str | None = None,
    direction: Literal["maximize", "minimize"] = "maximize",
    strategy_args: dict[str, dict[str, Any]] | None = None,
    scorer: ProxyScorer | None = None, unit: Literal["queries", "epochs"] = "queries",
    points: int = 100,
) -> CompareResult:
    """Run each strategy for ``seeds`` seeds of ``budget`` queries (or epochs) on ``table``.

    ``strategies`` are names or specs with settings (``"reinforce:lr=0.01"``); the same
    strategy may appear with several settings. A spec may end in ``@PRUNER`` to stop
    trials early on the table's fewer-epoch columns (``"evolution@asha:min_resource=12"``;
    see :func:`~archsearch.pruners.create_pruner`). ``strategy_args`` adds settings by
    spec. Results are keyed by spec.

    ``unit="epochs"`` makes ``budget`` a number of training epochs, as
    :meth:`Experiment.run(max_epochs=...) <archsearch.Experiment.run>` counts them: the
    objective must be a column ``METRIC_<N>ep``. Curves are then read at ``points``
    evenly spaced totals of epochs. ``objective`` is a column (maximised, or as ``direction``
    says) or any :class:`~archsearch.types.Objective`, e.g. a
    :class:`~archsearch.objectives.MnasReward` over two columns; ``report`` defaults to the
    column's name.

    Specs that rank by a training-free proxy (``naswot``, ``evolution:screen=10``) need
    ``scorer``, built on the table's task. Its scores are cached across runs (a score is
    a property of the architecture); ``proxy_evaluations[spec]`` counts the distinct
    architectures each run scored, so a run's proxy time is that count times the mean
    seconds per score, ``scorer.seconds / len(scorer)``.
    """
    from archsearch.evaluators.tabular import TabularLookup  # evaluators import this package

    check_int("compare_strategies", "budget", budget, 1)
    check_int("compare_strategies", "seeds", seeds, 1)
    check_int("compare_strategies", "points", points, 1)
    if unit not in ("queries", "epochs"):
        raise InvalidParameterError(f"The 'unit' parameter of compare_strategies must be "
                                    f"'queries' or 'epochs'. Got {unit!r} instead.")
    if isinstance(objective, str):
        objective = Objective(objective, direction)
    used = [getattr(objective, m) for m in ("accuracy", "latency") if hasattr(objective, m)]
    report = report or (used or [objective.name])[0]
    if table.space is not space:
        table.index(space)
    table.check_columns(used or [objective.name])
    table.check_columns([report])
    evaluator = TabularLookup(table, (used or [objective.name])[0], objective.direction)
    if unit == "epochs" and evaluator.max_epochs() is None:
        raise InvalidParameterError(
            f"A budget of epochs needs an objective column METRIC_<N>ep (its epochs are "
            f"what a query costs); {objective.name!r} is not one.")
    if unit == "epochs" and budget < (evaluator.max_epochs() or 0):
        raise InvalidParameterError(
            f"A budget of {budget} epochs buys no trial of {objective.name!r}: one costs "
            f"{evaluator.max_epochs()} epochs trained in full.")
    x = (np.arange(1, budget + 1) if unit == "queries" else
         np.unique(np.ceil(budget * np.arange(1, points + 1) / points).astype(int)))
    result = CompareResult(objective.name, report, budget, seeds, unit, x)
    result.optimum = float(np.nanmax(table.columns[report]))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # lookups and a small controller: more threads only cost
    try:
        _run_all(result, space, objective, strategies, strategy_args, evaluator, seeds, budget,
                 scorer)
    finally:
        torch.set_num_threads(threads)
    return result


def _run_all(result: CompareResult, space: SearchSpace, objective: Objective,
             strategies: Sequence[str], strategy_args: dict[str, dict[str, Any]] | None,
             evaluator: Evaluator, seeds: int, budget: int, scorer: ProxyScorer | None) -> None:
    parsed: dict[str, tuple[str, dict[str, Any], str | None]] = {}
    for spec in strategies:
        strategy_spec, pruner = split_spec(spec)
        name, args = parse_strategy_spec(strategy_spec)
        parsed[spec] = (name, {**args, **(strategy_args or {}).get(spec, {})}, pruner)
    evaluator.setup(space)  # the table is indexed already: this only checks
    for name, args, pruner in parsed.values():
        build_strategy(name, args, scorer).setup(space, objective, 0)  # fail early
        if pruner:  # the settings, and a rung where the table reports
            check_pruner_fits(create_pruner(pruner), evaluator.objectives[0].direction,
                              evaluator.report_steps(), evaluator.max_epochs())
    for spec, (name, args, pruner) in parsed.items():
        start = time.perf_counter()
        runs, scored = [], []
        for seed in range(seeds):
            strategy = build_strategy(name, args, scorer)
            runs.append(_one_run(space, strategy, evaluator, objective, seed, result, pruner))
            if needs_scorer(name, args) and scorer is not None:
                scored.append(len(scorer.requested))  # this run's, since its setup
        result.curves[spec] = np.stack([run.curve for run in runs])
        result.picks[spec] = [run.pick for run in runs]
        result.trials[spec] = [run.trials for run in runs]
        result.pruned[spec] = [run.pruned for run in runs]
        result.seconds[spec] = time.perf_counter() - start
        if scored:
            result.proxy_evaluations[spec] = scored


def split_spec(spec: str) -> tuple[str, str | None]:
    """``"STRATEGY[@PRUNER]"`` as (strategy spec, pruner spec or None).

    Example:
        >>> split_spec("evolution:sample_size=10@asha:min_resource=12")
        ('evolution:sample_size=10', 'asha:min_resource=12')
    """
    strategy, at, pruner = spec.partition("@")
    if at and not pruner:
        raise InvalidParameterError(f"{spec!r} names no pruner after '@' "
                                    "(e.g. evolution@asha:min_resource=12).")
    return strategy, pruner or None


@dataclass
class _Run:
    curve: np.ndarray
    pick: dict[str, float]
    trials: int
    pruned: int


def _one_run(space: SearchSpace, strategy: Strategy, evaluator: Evaluator,
             objective: Objective, seed: int, result: CompareResult, pruner: str | None) -> _Run:
    exp = Experiment.create(f"{strategy.name}-{seed}", space, strategy,
                            evaluator, store=MemoryStore(), seed=seed, objective=objective,
                            pruner=create_pruner(pruner) if pruner else None)
    if result.unit == "queries":
        exp.run(n_trials=result.budget)
    else:
        exp.run(max_epochs=result.budget)
    trials = exp.trials()
    # what the budget had paid after each trial, and the report of the pick by then
    spent = np.cumsum([1 if result.unit == "queries" else exp.epochs_of(t) for t in trials])
    reports = np.full(len(trials), np.nan)
    best_score, best_report, pick = -math.inf, math.nan, {}
    for i, trial in enumerate(trials):
        score = objective.score(trial.values) if trial.state is TrialState.COMPLETE else None
        if score is not None and score > best_score:
            best_score, best_report = score, trial.values.get(result.report, math.nan)
            pick = dict(trial.values)
        reports[i] = best_report
    after = np.searchsorted(spent, result.x, side="right")  # trials paid for by each point
    curve = (np.where(after > 0, reports[np.maximum(after, 1) - 1], np.nan) if len(trials)
             else np.full(len(result.x), np.nan))
    return _Run(curve, pick, len(trials), sum(t.state is TrialState.PRUNED for t in trials))


def plot_curves(result: CompareResult, path: str | Path, title: str | None = None) -> None:
    """Save a PNG of the mean report value (± one std) against the budget spent (queries or epochs)."""
    plt = require("matplotlib.pyplot", "plot", backend="Agg")
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for name, curves in result.curves.items():
        mean, std = np.nanmean(curves, axis=0), np.nanstd(curves, axis=0)
        sparse = np.isnan(curves).mean(axis=0) > 0.5  # a mean of the few runs with a pick
        mean[sparse], std[sparse] = np.nan, np.nan
        ax.plot(result.x, mean, label=f"{name} ({mean[-1]:.2f} ± {std[-1]:.2f})")
        ax.fill_between(result.x, mean - std, mean + std, alpha=0.15)
    settled = max(1, len(result.x) // 10)  # the first points would flatten the rest
    low = min(np.nanmin(np.nanmean(c, axis=0)[settled:] - np.nanstd(c, axis=0)[settled:])
              for c in result.curves.values()) if len(result.x) > settled else None
    if low is not None and math.isfinite(low):
        top = max(result.optimum, *(np.nanmax(c) for c in result.curves.values()))
        ax.set_ylim(low - 0.05 * (top - low), top + 0.05 * (top - low))
    if math.isfinite(result.optimum):
        ax.axhline(result.optimum, color="grey", linestyle="--", linewidth=1, label="table optimum")
    ax.set_xlabel(result.unit if result.unit == "queries" else "training epochs spent")
    ax.set_ylabel(f"{result.report} of the pick")
    ax.set_title(title or f"picked by {result.objective}, {result.seeds} seeds")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize="small" if len(result.curves) > 4 else None)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
