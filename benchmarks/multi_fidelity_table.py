"""Early stopping on a table's fidelities, at an equal budget of epochs.

On the NAS-Bench-201 table with ``--objective`` (the 200-epoch CIFAR-10 validation accuracy)
as what the search maximises, each strategy spends ``--budget-epochs`` epochs (a query of
the 200-epoch column costs 200, of the 12-epoch column 12), once with every trial read at
200 epochs and once with ``--prune`` (trials stopped at 12 epochs cost 12). Prints, for
``--seeds`` seeds, the mean ± std of the best objective value found, the trials a run got
and how many were stopped.

    python benchmarks/multi_fidelity_table.py [--table ../shared/data/nb201/nb201.csv] [--seeds 10]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import archsearch
from archsearch import Experiment, TabularLookup, TrialState, create_pruner

DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "nb201" / "nb201.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default=str(DEFAULT))
    parser.add_argument("--objective", default="cifar10_val_acc_200ep")
    parser.add_argument("--budget-epochs", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--strategies", default="random,evolution")
    parser.add_argument("--prune", default="asha:min_resource=12:eta=3")
    args = parser.parse_args()
    if not Path(args.table).is_file():
        raise SystemExit(f"No table at {args.table}; pass --table.")
    space = archsearch.create_space("nb201")
    evaluator = TabularLookup(args.table, args.objective)
    print(f"best {args.objective} found with {args.budget_epochs} epochs to spend, "
          f"{args.seeds} seeds (mean ± std over seeds)")
    print(f"  {'search':<40}{'best':>16}{'trials':>8}{'stopped':>9}")
    for name in args.strategies.split(","):
        for prune in (None, args.prune):
            best, trials, stopped = [], [], []
            for seed in range(args.seeds):
                exp = Experiment.create("t", space, archsearch.create_strategy(name), evaluator,
                                        store=":memory:", seed=seed,
                                        pruner=create_pruner(prune) if prune else None)
                exp.run(max_epochs=args.budget_epochs)
                done = exp.trials()
                best.append(max(t.values[args.objective] for t in done
                                if t.state is TrialState.COMPLETE))
                trials.append(len(done))
                stopped.append(sum(t.state is TrialState.PRUNED for t in done))
            label = f"{name} + {prune}" if prune else name
            print(f"  {label:<40}{np.mean(best):9.2f} ± {np.std(best):.2f}"
                  f"{np.mean(trials):8.1f}{np.mean(stopped):9.1f}")


if __name__ == "__main__":
    main()
