"""Early stopping (successive halving, Hyperband) against the same search without it.

Partial training on Fashion-MNIST (``--image-size`` pixels, ``--n-train`` images, an NB201
network of ``--channels`` channels and one cell per stage): for ``--seeds`` seeds, a search
of trials of ``--epochs`` epochs spends a budget of ``--trials`` x ``--epochs`` training
epochs under each of ``--prune`` (comma-separated pruners; ``none`` trains every trial in
full; stopped trials count the epochs they got, so more trials fit). Prints the best
validation accuracy reached after several totals of epochs spent (mean ± std over seeds),
then the trials a run got, how many were stopped, and its seconds.

    python benchmarks/multi_fidelity.py [--seeds 3] [--trials 30] [--epochs 9] [--workers 2]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch

import archsearch
from archsearch import Experiment, PartialTraining, TrainConfig, TrialState, create_pruner
from archsearch.data import load_task
from archsearch.types import FrozenTrial


def spent_curve(trials: list[FrozenTrial], n_epochs: int) -> list[tuple[int, float]]:
    """``(epochs spent so far, best val_accuracy so far)`` after each trial, in order."""
    spent, best, curve = 0, float("nan"), []
    for trial in sorted(trials, key=lambda t: t.number):
        if trial.state is TrialState.COMPLETE:
            spent += n_epochs
            acc = trial.values["val_accuracy"]
            best = acc if np.isnan(best) else max(best, acc)
        else:
            spent += int(trial.values.get("epochs", max(trial.intermediate, default=0)))
        curve.append((spent, best))
    return curve


def best_at(curve: list[tuple[int, float]], budget: int) -> float:
    """The best accuracy reached within ``budget`` epochs (NaN before any)."""
    within = [best for spent, best in curve if spent <= budget]
    return within[-1] if within else float("nan")


def one_run(args: argparse.Namespace, seed: int, prune: str | None
            ) -> tuple[list[tuple[int, float]], float, int, int, list[dict[int, float]]]:
    """One search: its curve, seconds, stopped trials, trials, and the accuracy by epoch of
    each complete trial."""
    torch.set_num_threads(1)
    task = load_task(args.dataset, data_dir=args.data_dir, image_size=args.image_size,
                     n_train=args.n_train, val_fraction=args.val_fraction)
    space = archsearch.create_space("nb201", channels=args.channels, cells_per_stage=1)
    evaluator = PartialTraining(task, TrainConfig(n_epochs=args.epochs), device="cpu")
    start = time.perf_counter()
    exp = Experiment.create(f"s{seed}", space, archsearch.create_strategy(args.strategy),
                            evaluator, store=":memory:", seed=seed,
                            pruner=create_pruner(prune) if prune else None)
    exp.run(max_epochs=args.trials * args.epochs)
    seconds = time.perf_counter() - start
    trials = exp.trials()
    return (spent_curve(trials, args.epochs), seconds,
            sum(t.state is TrialState.PRUNED for t in trials), len(trials),
            [dict(t.intermediate) for t in trials if t.state is TrialState.COMPLETE])


def rank_agreement(histories: list[dict[int, float]], n_epochs: int) -> str:
    """Kendall tau of the accuracy after 1, 3, ... epochs with the final one, over trials."""
    from scipy.stats import kendalltau

    final = [h[n_epochs] for h in histories]
    parts = [f"epoch {k}: {kendalltau([h[k] for h in histories], final).statistic:.2f}"
             for k in sorted({1, 2, 3, n_epochs // 3, 2 * n_epochs // 3} - {0, n_epochs})]
    spread = np.percentile(final, [50, 90, 100])
    return (f"  trials trained in full ({len(final)}): Kendall tau with the final accuracy "
            f"after {', '.join(parts)}; final accuracy median {spread[0]:.4f}, p90 "
            f"{spread[1]:.4f}, max {spread[2]:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--image-size", type=int, default=16)
    parser.add_argument("--n-train", type=int, default=2000)
    parser.add_argument("--val-fraction", type=float, default=0.05,
                        help="validation share of the 60,000 training images (default 0.05: 3,000)")
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=9)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="runs side by side, 1 thread each")
    parser.add_argument("--strategy", default="evolution")
    parser.add_argument("--prune", default="none,asha:min_resource=1:eta=3",
                        help="comma-separated pruners, 'none' for the search without one")
    parser.add_argument("--report-at", default="30,60,90,135,180,270")
    args = parser.parse_args()
    budget = args.trials * args.epochs
    at = [q for q in (int(s) for s in args.report_at.split(",")) if q <= budget]
    print(f"{args.dataset} {args.image_size}x{args.image_size}, {args.n_train} training "
          f"images, nb201 C={args.channels}; {args.strategy}, {budget} epochs in trials of "
          f"up to {args.epochs}, {args.seeds} seeds; best val_accuracy after E epochs spent")
    print(f"  {'search':<36}" + "".join(f"{f'E={q}':>16}" for q in at)
          + f"{'trials':>8}{'stopped':>9}{'seconds':>9}")
    variants = [None if p == "none" else p for p in args.prune.split(",")]
    jobs = [(seed, prune) for prune in variants for seed in range(args.seeds)]
    with ProcessPoolExecutor(args.workers, mp_context=mp.get_context("spawn")) as pool:
        results = list(pool.map(one_run, [args] * len(jobs), *zip(*jobs)))
    for prune in variants:
        runs = [r for (_, p), r in zip(jobs, results) if p == prune]
        curves = [r[0] for r in runs]
        cells = ""
        for q in at:
            values = np.array([best_at(c, q) for c in curves])
            cells += (f"{'-':>16}" if np.isnan(values).any() else
                      f"{values.mean():10.4f} ± {values.std():.3f}")
        label = f"{args.strategy} + {prune}" if prune else args.strategy
        print(f"  {label:<36}{cells}{np.mean([r[3] for r in runs]):8.1f}"
              f"{np.mean([r[2] for r in runs]):9.1f}{np.mean([r[1] for r in runs]):9.0f}")
    if None in variants:  # why early stopping pays or not: do early epochs rank trials?
        runs = [r for (_, p), r in zip(jobs, results) if p is None]
        print(rank_agreement([h for r in runs for h in r[4]], args.epochs))


if __name__ == "__main__":
    main()
