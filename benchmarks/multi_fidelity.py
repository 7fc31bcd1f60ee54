"""Early stopping by asynchronous successive halving against the same search without it.

Partial training on Fashion-MNIST (``--image-size`` pixels, ``--n-train`` images, an NB201
network of ``--channels`` channels and one cell per stage): for ``--seeds`` seeds, a search
of trials of ``--epochs`` epochs spends a budget of ``--trials`` x ``--epochs`` training
epochs, once with every trial trained in full and once with ``--prune`` (stopped trials
count the epochs they got, so more trials fit). Prints the best validation accuracy reached
after several totals of epochs spent (mean ± std over seeds), then the trials a run got, how
many were stopped, and its seconds.

    python benchmarks/multi_fidelity.py [--seeds 3] [--trials 30] [--epochs 9]
"""

from __future__ import annotations

import argparse
import time

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--image-size", type=int, default=16)
    parser.add_argument("--n-train", type=int, default=2000)
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=9)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--strategy", default="evolution")
    parser.add_argument("--prune", default="asha:min_resource=1:eta=3")
    parser.add_argument("--report-at", default="30,60,90,135,180,270")
    args = parser.parse_args()
    torch.set_num_threads(1)
    task = load_task(args.dataset, data_dir=args.data_dir, image_size=args.image_size,
                     n_train=args.n_train)
    space = archsearch.create_space("nb201", channels=args.channels, cells_per_stage=1)
    evaluator = PartialTraining(task, TrainConfig(n_epochs=args.epochs), device="cpu")
    budget = args.trials * args.epochs
    at = [q for q in (int(s) for s in args.report_at.split(",")) if q <= budget]
    print(f"{args.dataset} {args.image_size}x{args.image_size}, {args.n_train} training "
          f"images, nb201 C={args.channels}; {args.strategy}, {budget} epochs in trials of "
          f"up to {args.epochs}, {args.seeds} seeds; best val_accuracy after E epochs spent")
    print(f"  {'search':<36}" + "".join(f"{f'E={q}':>16}" for q in at)
          + f"{'trials':>8}{'stopped':>9}{'seconds':>9}")
    for prune in (None, args.prune):
        curves, seconds, stopped, counts = [], [], [], []
        for seed in range(args.seeds):
            start = time.perf_counter()
            exp = Experiment.create(f"s{seed}", space, archsearch.create_strategy(args.strategy),
                                    evaluator, store=":memory:", seed=seed,
                                    pruner=create_pruner(prune) if prune else None)
            exp.run(max_epochs=budget)
            seconds.append(time.perf_counter() - start)
            trials = exp.trials()
            curves.append(spent_curve(trials, args.epochs))
            stopped.append(sum(t.state is TrialState.PRUNED for t in trials))
            counts.append(len(trials))
        cells = ""
        for q in at:
            values = np.array([best_at(c, q) for c in curves])
            cells += (f"{'-':>16}" if np.isnan(values).any() else
                      f"{values.mean():10.4f} ± {values.std():.3f}")
        label = f"{args.strategy} + {prune}" if prune else args.strategy
        print(f"  {label:<36}{cells}{np.mean(counts):8.1f}{np.mean(stopped):9.1f}"
              f"{np.mean(seconds):9.0f}")


if __name__ == "__main__":
    main()
