"""Compare strategies on a tabular benchmark, the way NAS papers do.

Each strategy runs once per seed for ``budget`` queries. After every query, the run's
pick is its best trial so far by the objective; the curve records the report column of
that pick. The final figure is the mean and standard deviation of the report column of
each run's pick after all queries.
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
from archsearch.evaluators.base import Evaluator
from archsearch.experiment import Experiment
from archsearch.spaces.base import SearchSpace
from archsearch.storage import MemoryStore
from archsearch.strategies import ProxyScorer, build_strategy, needs_scorer, parse_strategy_spec
from archsearch.strategies.base import Strategy
from archsearch.types import Objective, TrialState

__all__ = ["CompareResult", "compare_strategies", "plot_curves"]


@dataclass
class CompareResult:
    """Curves of every strategy: ``curves[name]`` is (seeds, budget), NaN before a pick.

    ``picks[name]`` holds the metrics of each run's final pick (empty if nothing completed).
    """

    objective: str
    report: str
    budget: int
    seeds: int
    curves: dict[str, np.ndarray] = field(default_factory=dict)
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
            "seeds": self.seeds, "optimum": self.optimum,
            "strategies": {
                name: {"mean": self.final(name)[0], "std": self.final(name)[1],
                       "seconds": self.seconds[name],
                       "curve_mean": np.nanmean(c, axis=0).round(4).tolist()}
                for name, c in self.curves.items()
            },
        }


def compare_strategies(
    table: Table, space: SearchSpace, objective: str | Objective, strategies: Sequence[str], *,
    budget: int = 100, seeds: int = 10, report: str | None = None,
    direction: Literal["maximize", "minimize"] = "maximize",
    strategy_args: dict[str, dict[str, Any]] | None = None,
    scorer: ProxyScorer | None = None,
) -> CompareResult:
    """Run each strategy for ``seeds`` seeds of ``budget`` queries on ``table``.

    ``strategies`` are names or specs with settings (``"reinforce:lr=0.01"``); the same
    strategy may appear with several settings. ``strategy_args`` adds settings by spec.
    Results are keyed by spec. ``objective`` is a column (maximised, or as ``direction``
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
    if isinstance(objective, str):
        objective = Objective(objective, direction)
    used = [getattr(objective, m) for m in ("accuracy", "latency") if hasattr(objective, m)]
    report = report or (used or [objective.name])[0]
    if table.space is not space:
        table.index(space)
    table.check_columns(used or [objective.name])
    table.check_columns([report])
    evaluator = TabularLookup(table, (used or [objective.name])[0], objective.direction)
    result = CompareResult(objective.name, report, budget, seeds)
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
    report = result.report
    parsed = {spec: parse_strategy_spec(spec) for spec in strategies}
    parsed = {spec: (name, {**args, **(strategy_args or {}).get(spec, {})})
              for spec, (name, args) in parsed.items()}
    for name, args in parsed.values():
        build_strategy(name, args, scorer).setup(space, objective, 0)  # fail early
    for spec, (name, args) in parsed.items():
        start = time.perf_counter()
        runs, scored = [], []
        for seed in range(seeds):
            strategy = build_strategy(name, args, scorer)
            runs.append(_one_run(space, strategy, evaluator, objective, seed, budget, report))
            if needs_scorer(name, args) and scorer is not None:
                scored.append(len(scorer.requested))  # this run's, since its setup
        result.curves[spec] = np.stack([curve for curve, _ in runs])
        result.picks[spec] = [pick for _, pick in runs]
        result.seconds[spec] = time.perf_counter() - start
        if scored:
            result.proxy_evaluations[spec] = scored


def _one_run(space: SearchSpace, strategy: Strategy, evaluator: Evaluator,
             objective: Objective, seed: int, budget: int, report: str
             ) -> tuple[np.ndarray, dict[str, float]]:
    exp = Experiment.create(f"{strategy.name}-{seed}", space, strategy,
                            evaluator, store=MemoryStore(), seed=seed, objective=objective)
    exp.run(n_trials=budget)
    curve = np.full(budget, np.nan)
    best_score, best_report, pick = -math.inf, math.nan, {}
    for i, trial in enumerate(exp.trials()[:budget]):
        score = objective.score(trial.values) if trial.state is TrialState.COMPLETE else None
        if score is not None and score > best_score:
            best_score, best_report = score, trial.values.get(report, math.nan)
            pick = dict(trial.values)
        curve[i] = best_report
    return curve, pick


def plot_curves(result: CompareResult, path: str | Path, title: str | None = None) -> None:
    """Save a PNG of the mean report value (± one std) against the number of queries."""
    plt = require("matplotlib.pyplot", "plot", backend="Agg")
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    queries = np.arange(1, result.budget + 1)
    for name, curves in result.curves.items():
        mean, std = np.nanmean(curves, axis=0), np.nanstd(curves, axis=0)
        ax.plot(queries, mean, label=f"{name} ({mean[-1]:.2f} ± {std[-1]:.2f})")
        ax.fill_between(queries, mean - std, mean + std, alpha=0.15)
    settled = max(1, result.budget // 10)  # the first queries would flatten the rest
    low = min(np.nanmin(np.nanmean(c, axis=0)[settled:] - np.nanstd(c, axis=0)[settled:])
              for c in result.curves.values()) if result.budget > settled else None
    if low is not None and math.isfinite(low):
        top = max(result.optimum, *(np.nanmax(c) for c in result.curves.values()))
        ax.set_ylim(low - 0.05 * (top - low), top + 0.05 * (top - low))
    if math.isfinite(result.optimum):
        ax.axhline(result.optimum, color="grey", linestyle="--", linewidth=1, label="table optimum")
    ax.set_xlabel("queries")
    ax.set_ylabel(f"{result.report} of the pick")
    ax.set_title(title or f"picked by {result.objective}, {result.seeds} seeds")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
