"""The figures of a run report (matplotlib, an optional dependency): search progress, the
spread of scores, a one-shot search's epochs and the final training's curves."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from archsearch._utils.imports import require
from archsearch.oneshot.darts import epoch_base, epoch_number
from archsearch.reports.summary import RunSummary, trial_time
from archsearch.types import FrozenTrial, TrialState

__all__ = ["plot_progress", "plot_scores", "plot_epochs", "plot_training", "usable_history"]

BLUE, ORANGE, RED, AMBER, GREY, GREEN = ("#2f6fb0", "#e8702a", "#c62828", "#d9a406", "#8a8a8a",
                                         "#2e8b3a")
# How each state that has no score is marked along the bottom of a progress panel.
MARKS = {TrialState.FAILED: ("x", RED), TrialState.PRUNED: ("v", AMBER),
         TrialState.INTERRUPTED: ("s", GREY), TrialState.RUNNING: ("o", GREY)}
STYLE = {"axes.spines.top": False, "axes.spines.right": False, "axes.titleweight": "bold",
         "font.size": 9.5, "legend.fontsize": 8}


@contextmanager
def _panels(path: str | Path, n: int, size: tuple[float, float],
            **kwargs: Any) -> Iterator[list[Any]]:
    """``n`` axes in a row, in the report's style; the figure is saved to ``path`` on exit."""
    plt = require("matplotlib.pyplot", "plot", backend="Agg")
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, n, figsize=size, squeeze=False, **kwargs)
        try:
            yield list(axes[0])
            fig.tight_layout()
            fig.savefig(path, dpi=110, facecolor="white")
        finally:
            plt.close(fig)


def _integer_ticks() -> Any:
    ticker = require("matplotlib.ticker", "plot")
    return ticker.MaxNLocator(integer=True, min_n_ticks=1)


def _integer_axis(ax: Any, xs: Sequence[float]) -> None:
    """Integer ticks on the x axis (epochs, trial numbers), one per value when there are few;
    a span under 2 is widened by half a step each side so one value gets one tick."""
    finite = sorted({float(x) for x in xs if math.isfinite(x)})
    if finite and finite[-1] - finite[0] < 2:
        ax.set_xlim(finite[0] - 0.5, finite[-1] + 0.5)
    ax.xaxis.set_major_locator(_integer_ticks())


def _time_axis(span: float) -> tuple[float, str]:
    """The divisor and unit of a wall-clock axis that lasts ``span`` seconds."""
    if span > 2 * 3600:
        return 3600.0, "hours"
    return (60.0, "minutes") if span > 120 else (1.0, "seconds")


def _elapsed(trials: Sequence[FrozenTrial]) -> list[float]:
    """Seconds from the first start to each trial's end (its start while it runs)."""
    starts = [t for t in map(trial_time, trials) if t is not None]
    t0 = min(starts, default=0.0)
    return [max(0.0, (trial_time(t, end=True) or t0) - t0) for t in trials]


def _direction_note(direction: str) -> str:
    return "lower is better" if direction == "minimize" else "higher is better"


def plot_progress(run: RunSummary, path: str | Path) -> Path:
    """Every trial's score and the best so far, against wall-clock time and trial number.

    Trials without a score (failed, pruned, interrupted) are marked along the bottom.
    """
    trials = sorted(run.trials, key=lambda t: t.number)
    elapsed = _elapsed(trials)
    divisor, unit = _time_axis(max(elapsed, default=0.0))
    by_time = sorted(zip(elapsed, trials), key=lambda p: p[0])
    with _panels(path, 2, (11, 3.9), sharey=True) as axes:
        for ax, points, label in ((axes[0], [(e / divisor, t) for e, t in by_time],
                                   f"wall-clock time ({unit} since the first trial)"),
                                  (axes[1], [(float(t.number), t) for t in trials],
                                   "trial number")):
            _progress_panel(ax, run, points)
            ax.set_xlabel(label)
        _integer_axis(axes[1], [float(t.number) for t in trials])
        axes[0].set_ylabel(f"{run.objective.name} ({_direction_note(run.objective.direction)})")
        axes[0].set_title("against time")
        axes[1].set_title("against trial number")
        axes[1].legend(loc="best", framealpha=0.9)
    return Path(path)


def _progress_panel(ax: Any, run: RunSummary, points: list[tuple[float, FrozenTrial]]) -> None:
    scored = [(x, s) for x, t in points if (s := run.score(t)) is not None]
    sign = -1.0 if run.objective.direction == "minimize" else 1.0
    if scored:
        ax.scatter([x for x, _ in scored], [s for _, s in scored], s=16, color=BLUE, alpha=0.6,
                   label=f"complete ({len(scored)})", zorder=2)
        best: list[float] = []
        for _, s in scored:
            best.append(s if not best or sign * s > sign * best[-1] else best[-1])
        ax.step([x for x, _ in scored], best, where="post", color=ORANGE, linewidth=2,
                label="best so far", zorder=3)
    transform = ax.get_xaxis_transform()  # x in data, y in axes units: the bottom edge
    for state, (marker, color) in MARKS.items():
        xs = [x for x, t in points if t.state is state]
        if xs:
            ax.scatter(xs, [0.03] * len(xs), transform=transform, marker=marker, s=36,
                       color=color, label=f"{state.value} ({len(xs)})", zorder=4)
    xs = [x for x, _ in points]  # those marked at the bottom do not widen the axis themselves
    pad = 0.04 * (max(xs) - min(xs)) or 0.5
    ax.set_xlim(min(0.0, min(xs)) - pad, max(xs) + pad)
    ax.grid(alpha=0.3)


def plot_scores(run: RunSummary, path: str | Path) -> Path:
    """A histogram of each objective metric (four at most) over the complete trials."""
    pairs = getattr(run.objective, "metrics", None) or ((run.objective.name,
                                                          run.objective.direction),)
    pairs = pairs[:4]
    best = run.best()
    with _panels(path, len(pairs), (min(11.0, 5.5 * len(pairs)), 3.6)) as axes:
        for ax, (metric, direction) in zip(axes, pairs):
            values = [v for t in run.complete if math.isfinite(v := t.values.get(metric, math.nan))]
            bins = max(5, min(30, len(values) // 2)) if len(set(values)) > 1 else 1
            ax.hist(values, bins=bins, color=BLUE, alpha=0.85, edgecolor="white")
            if best is not None and math.isfinite(best.values.get(metric, math.nan)):
                ax.axvline(best.values[metric], color=ORANGE, linewidth=2,
                           label=f"best (trial {best.number})")
                ax.legend(loc="best")
            ax.set_xlabel(f"{metric} ({_direction_note(direction)})")
            ax.set_ylabel("trials")
            ax.yaxis.set_major_locator(_integer_ticks())  # counts
            ax.grid(alpha=0.3, axis="y")
    return Path(path)


def plot_epochs(run: RunSummary, path: str | Path) -> Path:
    """A one-shot search: the supernet's accuracies per epoch, against time and epoch."""
    epochs = run.complete
    base = epoch_base(run.trials)  # rows of older runs count from 0
    when = {t.number: e for t, e in zip(run.trials, _elapsed(run.trials))}
    divisor, unit = _time_axis(max(when.values(), default=0.0))
    with _panels(path, 2, (11, 3.9), sharey=True) as axes:
        for ax, xs, label in ((axes[0], [when[t.number] / divisor for t in epochs],
                               f"wall-clock time ({unit} since the start)"),
                              (axes[1], [epoch_number(t, base) for t in epochs],
                               "epoch")):
            for metric, color in (("val_accuracy", BLUE), ("train_accuracy", GREEN)):
                ys = [t.values.get(metric, math.nan) for t in epochs]
                if any(math.isfinite(y) for y in ys):
                    ax.plot(xs, ys, "o-", color=color, markersize=4, label=metric)
            ax.set_xlabel(label)
            ax.grid(alpha=0.3)
        axes[0].set_ylabel("accuracy")
        axes[0].set_title("against time")
        axes[1].set_title("against epoch")
        _integer_axis(axes[1], [float(epoch_number(t, base)) for t in epochs])
        axes[1].legend(loc="best")
    return Path(path)


def usable_history(final: Mapping[str, Any] | None) -> list[dict[str, float]]:
    """The epochs of ``final/metrics.json``'s ``history`` that give an epoch number, with
    their finite numbers only, in epoch order.

    Example:
        >>> usable_history({"history": [{"epoch": 2, "loss": 0.5}, {"loss": 1.0},
        ...                             {"epoch": 1, "loss": float("nan"), "lr": 0.1}]})
        [{'epoch': 1.0, 'lr': 0.1}, {'epoch': 2.0, 'loss': 0.5}]
    """
    history = (final or {}).get("history")
    if not isinstance(history, list):
        return []
    out = []
    for entry in history:
        if isinstance(entry, Mapping) and _is_number(entry.get("epoch")):
            out.append({k: float(v) for k, v in entry.items()
                        if isinstance(k, str) and _is_number(v)})
    return sorted(out, key=lambda e: e["epoch"])


def _is_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def plot_training(history: Sequence[Mapping[str, float]], path: str | Path, *,
                  test_accuracy: float | None = None) -> Path:
    """The final training per epoch: loss, training accuracy and learning rate."""
    panels = [(key, title, color) for key, title, color in (
        ("loss", "training loss", RED), ("train_accuracy", "training accuracy", BLUE),
        ("lr", "learning rate", GREEN)) if any(key in e for e in history)]
    with _panels(path, max(1, len(panels)), (11, 3.4)) as axes:
        for ax, (key, title, color) in zip(axes, panels):
            points = [(e["epoch"], e[key]) for e in history if key in e]
            ax.plot([x for x, _ in points], [y for _, y in points], "o-", color=color,
                    markersize=4)
            if key == "train_accuracy" and test_accuracy is not None:
                ax.axhline(test_accuracy, color=ORANGE, linestyle="--", linewidth=1.5,
                           label=f"final test accuracy {test_accuracy:.4f}")
                ax.legend(loc="lower right")
            ax.set_title(title)
            ax.set_xlabel("epoch")
            _integer_axis(ax, [x for x, _ in points])
            ax.grid(alpha=0.3)
            if key == "lr":
                ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    return Path(path)
