"""The accuracy-versus-cost picture of a search: every trial, its Pareto front, the pick."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from archsearch._utils.imports import require
from archsearch.objectives import Direction, pareto_front
from archsearch.types import FrozenTrial, TrialState

__all__ = ["plot_pareto"]


def plot_pareto(trials: Sequence[FrozenTrial], first: tuple[str, Direction],
                second: tuple[str, Direction], path: str | Path, *,
                chosen: FrozenTrial | None = None, target: float | None = None,
                title: str | None = None) -> list[FrozenTrial]:
    """Save a PNG of ``first`` (y) against ``second`` (x) for the complete trials.

    The non-dominated trials are joined as a step line, ``chosen`` (e.g. the best trial
    by the search's objective) is starred, and ``target`` draws a vertical line on the x
    axis (e.g. the latency target of a MnasNet reward).

    Returns:
        The Pareto front, as :func:`~archsearch.objectives.pareto_front` gives it.
    """
    plt = require("matplotlib.pyplot", "plot", backend="Agg")
    complete = [t for t in trials if t.state is TrialState.COMPLETE
                and math.isfinite(t.values.get(first[0], math.nan))
                and math.isfinite(t.values.get(second[0], math.nan))]
    front = pareto_front(complete, first, second)
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    ax.scatter([t.values[second[0]] for t in complete], [t.values[first[0]] for t in complete],
               s=12, color="0.65", label=f"trials ({len(complete)})")
    by_x = sorted(front, key=lambda t: t.values[second[0]])
    ax.plot([t.values[second[0]] for t in by_x], [t.values[first[0]] for t in by_x],
            "o-", color="tab:blue", markersize=4, drawstyle="steps-post" if
            second[1] == "minimize" and first[1] == "maximize" else "default",
            label=f"Pareto front ({len(front)})")
    if chosen is not None and chosen in complete:
        ax.scatter([chosen.values[second[0]]], [chosen.values[first[0]]], marker="*", s=220,
                   color="tab:red", zorder=5, label=f"chosen (trial {chosen.number})")
    ys = [t.values[first[0]] for t in complete]
    if len(ys) >= 10:  # the front and the middle 90% of trials; outliers would squash them
        front_ys = [t.values[first[0]] for t in front]
        lo = min(float(np.percentile(ys, 5)), *front_ys)
        hi = max(float(np.percentile(ys, 95)), *front_ys)
        pad = 0.05 * (hi - lo) or 1.0
        ax.set_ylim(lo - pad, hi + pad)
    if target is not None:
        ax.axvline(target, color="tab:red", linestyle="--", linewidth=1, label=f"target {target:g}")
    ax.set_xlabel(f"{second[0]} ({'lower' if second[1] == 'minimize' else 'higher'} is better)")
    ax.set_ylabel(f"{first[0]} ({'lower' if first[1] == 'minimize' else 'higher'} is better)")
    ax.set_title(title or f"{first[0]} vs {second[0]}")
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return front
